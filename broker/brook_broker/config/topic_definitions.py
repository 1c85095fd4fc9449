"""The topic-level configs of Apache Kafka 4.x (``LogConfig``'s ConfigDef), as data.

Read by `config.topic` (validation, LogConfig, incremental alters) and `config.describe`.
This is exactly the list ``kafka-configs --describe --all --entity-type topics`` prints
against Kafka 4.3.1 (the version tests/harness runs; `test_kafka_differential` compares).
Differences from older Kafka worth knowing:

* ``segment.bytes`` must be at least 1 MiB (KIP-1030; 4.0 still allowed 14 bytes at topic
  level, 4.1 fixed that). Tests that want tiny segments build `LogConfig` directly.
* ``message.format.version``, ``message.timestamp.difference.max.ms`` and
  ``message.downconversion.enable`` were removed in 4.0, so they are unknown names here.

`synonyms` are the broker configs that supply a topic config's default, highest priority
first (Kafka's ``ServerTopicConfigSynonyms``); the first one is the "Server Default Property".
"""

from __future__ import annotations

import re

from brook_broker.config.configdef import (
    ConfigError,
    ConfigKey,
    ConfigType,
    ConfigValue,
    Custom,
    Importance,
    OneOf,
    Range,
    Synonym,
    Unit,
    ValidList,
    java_repr,
)

__all__ = ["COMPRESSION_TYPES", "LONG_MAX", "TOPIC_CONFIGS", "TOPIC_CONFIG_NAMES"]

LONG_MAX = 2**63 - 1
#: ``BrokerCompressionType`` names, in Kafka's order (used by the broker's compression.type too).
COMPRESSION_TYPES = ("uncompressed", "zstd", "lz4", "snappy", "gzip", "producer")

_BOOLEAN, _INT, _LONG, _DOUBLE = ConfigType.BOOLEAN, ConfigType.INT, ConfigType.LONG, ConfigType.DOUBLE
_LIST, _STRING = ConfigType.LIST, ConfigType.STRING
_MEDIUM = Importance.MEDIUM
_REPLICA_ENTRY = re.compile(r"([0-9]+:[0-9]+)?")


def _check_gzip_level(name: str, value: ConfigValue) -> None:
    # Deflater accepts 1..9, and -1 for "the library's default".
    if isinstance(value, int) and not (1 <= value <= 9 or value == -1):
        raise ConfigError.invalid(name, value, reason="Value must be between 1 and 9 or equal to -1")


def _check_throttled_replicas(name: str, value: ConfigValue) -> None:
    entries = [str(v).strip() for v in value] if isinstance(value, list) else []
    if not (all(_REPLICA_ENTRY.fullmatch(e) for e in entries) or "".join(entries) == "*"):
        raise ConfigError.invalid(
            name,
            java_repr(value),
            reason=f"{name} must be the literal '*' or a list of replicas in the following format: "
            "[partitionId]:[brokerId],[partitionId]:[brokerId],...",
        )


_GZIP_LEVEL = Custom(_check_gzip_level, "[1,...,9] or -1")
_THROTTLED_REPLICAS = Custom(
    _check_throttled_replicas, "[partitionId]:[brokerId],[partitionId]:[brokerId],..."
)


def _topic(
    name: str,
    config_type: ConfigType,
    *,
    default: ConfigValue,
    doc: str,
    validator: Range | OneOf | ValidList | Custom | None = None,
    synonyms: tuple[Synonym, ...] = (),
    honoured: bool = True,
) -> ConfigKey:
    return ConfigKey(
        name=name,
        type=config_type,
        default=default,
        importance=_MEDIUM,
        documentation=doc,
        validator=validator,
        synonyms=synonyms,
        honoured=honoured,
    )


def _same(name: str) -> tuple[Synonym, ...]:
    return (Synonym(name),)


TOPIC_CONFIGS: dict[str, ConfigKey] = {
    key.name: key
    for key in (
        _topic(
            "cleanup.policy",
            _LIST,
            default=["delete"],
            doc="What happens to old segments: 'delete' drops them past retention, 'compact' keeps the "
            "latest record per key; both may be given.",
            validator=ValidList(("compact", "delete"), allow_empty=True),
            synonyms=_same("log.cleanup.policy"),
        ),
        _topic(
            "compression.gzip.level",
            _INT,
            default=-1,
            doc="Compression level used when this topic's compression.type is gzip.",
            validator=_GZIP_LEVEL,
            synonyms=_same("compression.gzip.level"),
        ),
        _topic(
            "compression.lz4.level",
            _INT,
            default=9,
            doc="Compression level used when this topic's compression.type is lz4.",
            validator=Range(1, 17),
            synonyms=_same("compression.lz4.level"),
        ),
        _topic(
            "compression.type",
            _STRING,
            default="producer",
            doc="Codec the broker stores batches with; 'producer' keeps whatever the producer used and "
            "'uncompressed' stores them uncompressed.",
            validator=OneOf(COMPRESSION_TYPES),
            synonyms=_same("compression.type"),
        ),
        _topic(
            "compression.zstd.level",
            _INT,
            default=3,
            doc="Compression level used when this topic's compression.type is zstd.",
            validator=Range(-131072, 22),
            synonyms=_same("compression.zstd.level"),
        ),
        _topic(
            "delete.retention.ms",
            _LONG,
            default=86_400_000,
            doc="How long tombstones stay readable in a compacted topic, which bounds how long a "
            "consumer may take to read it from the start and still see deletes.",
            validator=Range(0),
            synonyms=_same("log.cleaner.delete.retention.ms"),
        ),
        _topic(
            "file.delete.delay.ms",
            _LONG,
            default=60_000,
            doc="Delay between marking a segment file deleted and removing it from disk.",
            validator=Range(0),
            synonyms=_same("log.segment.delete.delay.ms"),
        ),
        _topic(
            "flush.messages",
            _LONG,
            default=LONG_MAX,
            doc="Force an fsync after this many messages; by default the OS decides and replication "
            "provides durability.",
            validator=Range(1),
            synonyms=_same("log.flush.interval.messages"),
        ),
        _topic(
            "flush.ms",
            _LONG,
            default=LONG_MAX,
            doc="Force an fsync when the oldest unflushed message is this old; by default the OS decides.",
            validator=Range(0),
            synonyms=(Synonym("log.flush.interval.ms"), Synonym("log.flush.scheduler.interval.ms")),
        ),
        _topic(
            "follower.replication.throttled.replicas",
            _LIST,
            default=[],
            doc="Replicas (partitionId:brokerId, or '*') whose follower-side replication is throttled.",
            validator=_THROTTLED_REPLICAS,
            honoured=False,
        ),
        _topic(
            "index.interval.bytes",
            _INT,
            default=4096,
            doc="Bytes of log between two offset-index entries; smaller means a larger, finer index.",
            validator=Range(0),
            synonyms=_same("log.index.interval.bytes"),
        ),
        _topic(
            "leader.replication.throttled.replicas",
            _LIST,
            default=[],
            doc="Replicas (partitionId:brokerId, or '*') whose leader-side replication is throttled.",
            validator=_THROTTLED_REPLICAS,
            honoured=False,
        ),
        _topic(
            "local.retention.bytes",
            _LONG,
            default=-2,
            doc="With tiered storage, bytes kept on local disk; -2 means use retention.bytes.",
            validator=Range(-2),
            synonyms=_same("log.local.retention.bytes"),
            honoured=False,
        ),
        _topic(
            "local.retention.ms",
            _LONG,
            default=-2,
            doc="With tiered storage, time data is kept on local disk; -2 means use retention.ms.",
            validator=Range(-2),
            synonyms=_same("log.local.retention.ms"),
            honoured=False,
        ),
        _topic(
            "max.compaction.lag.ms",
            _LONG,
            default=LONG_MAX,
            doc="Longest time a record may stay uncompacted in a compacted topic.",
            validator=Range(1),
            synonyms=_same("log.cleaner.max.compaction.lag.ms"),
        ),
        _topic(
            "max.message.bytes",
            _INT,
            default=1_048_588,
            doc="Largest record batch (after compression) the topic accepts.",
            validator=Range(0),
            synonyms=_same("message.max.bytes"),
        ),
        _topic(
            "message.timestamp.after.max.ms",
            _LONG,
            default=3_600_000,
            doc="With CreateTime, reject batches whose timestamp is more than this far in the future.",
            validator=Range(0),
            synonyms=_same("log.message.timestamp.after.max.ms"),
        ),
        _topic(
            "message.timestamp.before.max.ms",
            _LONG,
            default=LONG_MAX,
            doc="With CreateTime, reject batches whose timestamp is more than this far in the past.",
            validator=Range(0),
            synonyms=_same("log.message.timestamp.before.max.ms"),
        ),
        _topic(
            "message.timestamp.type",
            _STRING,
            default="CreateTime",
            doc="Whether record timestamps come from the producer (CreateTime) or the broker at append "
            "time (LogAppendTime).",
            validator=OneOf(("CreateTime", "LogAppendTime")),
            synonyms=_same("log.message.timestamp.type"),
        ),
        _topic(
            "min.cleanable.dirty.ratio",
            _DOUBLE,
            default=0.5,
            doc="Share of a compacted log that must be uncompacted before the cleaner works on it.",
            validator=Range(0, 1),
            synonyms=_same("log.cleaner.min.cleanable.ratio"),
        ),
        _topic(
            "min.compaction.lag.ms",
            _LONG,
            default=0,
            doc="Shortest time a record stays uncompacted in a compacted topic.",
            validator=Range(0),
            synonyms=_same("log.cleaner.min.compaction.lag.ms"),
        ),
        _topic(
            "min.insync.replicas",
            _INT,
            default=1,
            doc="Replicas that must have a write for an acks=all produce to succeed; fewer in sync "
            "makes such produces fail with NOT_ENOUGH_REPLICAS.",
            validator=Range(1),
            synonyms=_same("min.insync.replicas"),
        ),
        _topic(
            "preallocate",
            _BOOLEAN,
            default=False,
            doc="Allocate a new segment's full size on disk when it is created.",
            synonyms=_same("log.preallocate"),
        ),
        _topic(
            "remote.log.copy.disable",
            _BOOLEAN,
            default=False,
            doc="With tiered storage, stop copying new segments to remote storage.",
            honoured=False,
        ),
        _topic(
            "remote.log.delete.on.disable",
            _BOOLEAN,
            default=False,
            doc="With tiered storage, delete remote data when remote storage is turned off for the topic.",
            honoured=False,
        ),
        _topic(
            "remote.storage.enable",
            _BOOLEAN,
            default=False,
            doc="Move old segments to remote (tiered) storage; Brook has no tiered storage, so only "
            "false is accepted.",
        ),
        _topic(
            "retention.bytes",
            _LONG,
            default=-1,
            doc="Largest size one partition may grow to before old segments are deleted; "
            "-1 means no size limit.",
            synonyms=_same("log.retention.bytes"),
        ),
        _topic(
            "retention.ms",
            _LONG,
            default=604_800_000,
            doc="How long a segment is kept before it may be deleted; -1 means no time limit.",
            validator=Range(-1),
            synonyms=(
                Synonym("log.retention.ms"),
                Synonym("log.retention.minutes", Unit.MINUTES),
                Synonym("log.retention.hours", Unit.HOURS),
            ),
        ),
        _topic(
            "segment.bytes",
            _INT,
            default=1_073_741_824,
            doc="Size at which the active segment is closed and a new one started.",
            validator=Range(1_048_576),
            synonyms=_same("log.segment.bytes"),
        ),
        _topic(
            "segment.index.bytes",
            _INT,
            default=10_485_760,
            doc="Size preallocated for a segment's offset and time indexes.",
            validator=Range(4),
            synonyms=_same("log.index.size.max.bytes"),
        ),
        _topic(
            "segment.jitter.ms",
            _LONG,
            default=0,
            doc="Largest random time subtracted from segment.ms so that partitions do not roll together.",
            validator=Range(0),
            synonyms=(Synonym("log.roll.jitter.ms"), Synonym("log.roll.jitter.hours", Unit.HOURS)),
        ),
        _topic(
            "segment.ms",
            _LONG,
            default=604_800_000,
            doc="Age at which the active segment is rolled even if it is not full, so retention and "
            "compaction can act on it.",
            validator=Range(1),
            synonyms=(Synonym("log.roll.ms"), Synonym("log.roll.hours", Unit.HOURS)),
        ),
        _topic(
            "unclean.leader.election.enable",
            _BOOLEAN,
            default=False,
            doc="Allow a replica outside the ISR to become leader when no ISR member is left, at the "
            "cost of losing acknowledged records.",
            synonyms=_same("unclean.leader.election.enable"),
        ),
    )
}

#: Kafka's ``LogConfig.configNames()``: sorted.
TOPIC_CONFIG_NAMES: tuple[str, ...] = tuple(sorted(TOPIC_CONFIGS))
