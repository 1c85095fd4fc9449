"""`config.topic`: validating topic overrides, the effective LogConfig, incremental alters."""

from __future__ import annotations

import pytest

from brook_broker.config.broker import BrokerConfig, load_broker_config
from brook_broker.config.configdef import INVALID_CONFIG, ConfigError
from brook_broker.config.layers import BrokerLayers
from brook_broker.config.log_config import LogConfig
from brook_broker.config.topic import (
    INVALID_REQUEST,
    AlterConfigOp,
    AlterOp,
    TopicConfigs,
    incremental_alter,
)


def broker(*overrides: str) -> BrokerConfig:
    return load_broker_config(path=None, overrides=list(overrides), env={})[0]


@pytest.fixture
def topics() -> TopicConfigs:
    return TopicConfigs(broker())


def error_of(topics: TopicConfigs, overrides: dict[str, str | None]) -> ConfigError:
    with pytest.raises(ConfigError) as error:
        topics.validate(overrides)
    return error.value


def test_validate_normalises(topics: TopicConfigs) -> None:
    normalised = topics.validate(
        {
            "retention.ms": " 1000 ",
            "cleanup.policy": "compact , delete",
            "preallocate": "TRUE",
            "min.cleanable.dirty.ratio": ".25",
        }
    )
    assert normalised == {
        "retention.ms": "1000",
        "cleanup.policy": "compact,delete",
        "preallocate": "true",
        "min.cleanable.dirty.ratio": "0.25",
    }


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"foo": "1"}, "Unknown topic config name: foo"),
        ({"retention.ms": "1", "log.retention.ms": "1"}, "Unknown topic config name: log.retention.ms"),
        ({"message.format.version": "3.0"}, "Unknown topic config name: message.format.version"),
        (
            {"retention.ms": None, "segment.ms": None},
            "Null value not supported for topic configs: retention.ms,segment.ms",
        ),
        (
            {"segment.bytes": "14"},
            "Invalid value 14 for configuration segment.bytes: Value must be at least 1048576",
        ),
        (
            {"min.insync.replicas": "0"},
            "Invalid value 0 for configuration min.insync.replicas: Value must be at least 1",
        ),
        (
            {"retention.ms": "-2"},
            "Invalid value -2 for configuration retention.ms: Value must be at least -1",
        ),
        (
            {"retention.ms": "1d"},
            "Invalid value 1d for configuration retention.ms: Not a number of type LONG",
        ),
        (
            {"cleanup.policy": "compact,remove"},
            "Invalid value remove for configuration cleanup.policy: String must be one of: compact, delete",
        ),
        (
            {"cleanup.policy": "compact,,delete"},
            "Configuration 'cleanup.policy' values must not be empty.",
        ),
        (
            {"message.timestamp.type": "createtime"},
            "Invalid value createtime for configuration message.timestamp.type: "
            "String must be one of: CreateTime, LogAppendTime",
        ),
        (
            {"compression.type": "brotli"},
            "Invalid value brotli for configuration compression.type: "
            "String must be one of: uncompressed, zstd, lz4, snappy, gzip, producer",
        ),
        (
            {"compression.gzip.level": "10"},
            "Invalid value 10 for configuration compression.gzip.level: "
            "Value must be between 1 and 9 or equal to -1",
        ),
        (
            {"min.cleanable.dirty.ratio": "1.5"},
            "Invalid value 1.5 for configuration min.cleanable.dirty.ratio: Value must be no more than 1",
        ),
        (
            {"leader.replication.throttled.replicas": "foo"},
            "Invalid value [foo] for configuration leader.replication.throttled.replicas: "
            "leader.replication.throttled.replicas must be the literal '*' or a list of replicas in the "
            "following format: [partitionId]:[brokerId],[partitionId]:[brokerId],...",
        ),
        (
            {"min.compaction.lag.ms": "100", "max.compaction.lag.ms": "50"},
            "conflict topic config setting min.compaction.lag.ms (100) > max.compaction.lag.ms (50)",
        ),
        (
            {"remote.storage.enable": "true"},
            "Tiered Storage functionality is disabled in the broker. "
            "Topic cannot be configured with remote log storage.",
        ),
    ],
)
def test_validation_messages_are_kafkas(
    topics: TopicConfigs, overrides: dict[str, str | None], message: str
) -> None:
    error = error_of(topics, overrides)
    assert str(error) == message
    assert error.error_code == INVALID_CONFIG


def test_compaction_lag_check_uses_broker_defaults() -> None:
    topics = TopicConfigs(broker("log.cleaner.max.compaction.lag.ms=1000"))
    assert str(error_of(topics, {"min.compaction.lag.ms": "2000"})) == (
        "conflict topic config setting min.compaction.lag.ms (2000) > max.compaction.lag.ms (1000)"
    )


def test_throttled_replica_lists(topics: TopicConfigs) -> None:
    assert topics.validate({"leader.replication.throttled.replicas": "0:1, 1:2"}) == {
        "leader.replication.throttled.replicas": "0:1,1:2"
    }
    assert topics.validate({"follower.replication.throttled.replicas": "*"})


def test_empty_cleanup_policy_is_refused_by_brook(topics: TopicConfigs) -> None:
    assert "at least one of compact, delete" in str(error_of(topics, {"cleanup.policy": ""}))


def test_log_config_defaults_match_the_dataclass(topics: TopicConfigs) -> None:
    assert topics.log_config({}) == LogConfig()


def test_log_config_from_overrides_and_broker_defaults() -> None:
    topics = TopicConfigs(broker("log.retention.hours=24", "log.roll.hours=1", "compression.type=zstd"))
    config = topics.log_config(
        {
            "segment.bytes": "1048576",
            "cleanup.policy": "delete,compact",
            "message.timestamp.type": "LogAppendTime",
        }
    )
    assert config.segment_bytes == 1_048_576
    assert config.retention_ms == 86_400_000
    assert config.segment_ms == 3_600_000
    assert config.compression_type == "zstd"
    assert config.cleanup_policy == "compact,delete"
    assert config.compact and config.delete
    assert config.message_timestamp_type == "LogAppendTime"


def test_dynamic_broker_layers_feed_topic_defaults() -> None:
    layers = BrokerLayers(
        broker("log.retention.ms=5000"),
        dynamic_broker={"log.retention.ms": "7000"},
        dynamic_default={"log.retention.ms": "6000", "log.segment.bytes": "2097152"},
    )
    config = TopicConfigs(layers).log_config({})
    assert (config.retention_ms, config.segment_bytes) == (7000, 2_097_152)


def test_creation_defaults() -> None:
    topics = TopicConfigs(broker("num.partitions=6", "default.replication.factor=1"))
    assert (topics.default_partitions(-1), topics.default_partitions(2)) == (6, 2)
    assert topics.default_replication_factor(-1) == 1
    with pytest.raises(
        ConfigError, match=r"Number of partitions was set to an invalid non-positive value\."
    ) as error:
        topics.default_partitions(0)
    assert error.value.error_code == 37
    with pytest.raises(ConfigError, match="Replication factor must be larger than 0") as error:
        topics.default_replication_factor(-2)
    assert error.value.error_code == 38


@pytest.mark.parametrize(
    ("current", "ops", "expected"),
    [
        ({}, [AlterConfigOp("retention.ms", AlterOp.SET, "100")], {"retention.ms": "100"}),
        ({"retention.ms": "1"}, [AlterConfigOp("retention.ms", AlterOp.DELETE)], {}),
        ({}, [AlterConfigOp("retention.ms", AlterOp.DELETE)], {}),
        # APPEND starts from the definition's default when the topic has no override.
        (
            {},
            [AlterConfigOp("cleanup.policy", AlterOp.APPEND, "compact")],
            {"cleanup.policy": "delete,compact"},
        ),
        (
            {"cleanup.policy": "compact"},
            [AlterConfigOp("cleanup.policy", AlterOp.APPEND, "compact,delete")],
            {"cleanup.policy": "compact,delete"},
        ),
        (
            {"cleanup.policy": "compact,delete"},
            [AlterConfigOp("cleanup.policy", AlterOp.SUBTRACT, "delete")],
            {"cleanup.policy": "compact"},
        ),
        (
            {"leader.replication.throttled.replicas": "0:1,1:1"},
            [AlterConfigOp("leader.replication.throttled.replicas", AlterOp.SUBTRACT, "1:1,9:9")],
            {"leader.replication.throttled.replicas": "0:1"},
        ),
        (
            {"retention.ms": "1"},
            [
                AlterConfigOp("retention.ms", AlterOp.SET, "2"),
                AlterConfigOp("follower.replication.throttled.replicas", AlterOp.APPEND, "0:1"),
            ],
            {"retention.ms": "2", "follower.replication.throttled.replicas": "0:1"},
        ),
    ],
)
def test_incremental_alter(
    current: dict[str, str], ops: list[AlterConfigOp], expected: dict[str, str]
) -> None:
    assert incremental_alter(current, ops) == expected


def test_only_delete_may_come_without_a_value() -> None:
    ops = [AlterConfigOp("retention.ms", AlterOp.SET), AlterConfigOp("cleanup.policy", AlterOp.APPEND)]
    with pytest.raises(ConfigError) as error:
        incremental_alter({}, [*ops, AlterConfigOp("segment.ms", AlterOp.DELETE)])
    assert str(error.value) == "Null value not supported for : retention.ms, cleanup.policy"
    assert error.value.error_code == INVALID_REQUEST


def test_incremental_alter_refuses_list_ops_on_scalars_and_duplicates() -> None:
    with pytest.raises(ConfigError) as error:
        incremental_alter({}, [AlterConfigOp("retention.ms", AlterOp.APPEND, "1")])
    assert str(error.value) == "Can't APPEND to key retention.ms because its type is not LIST."
    with pytest.raises(ConfigError) as error:
        incremental_alter({}, [AlterConfigOp("nope", AlterOp.SUBTRACT, "1")])
    assert str(error.value) == "Can't SUBTRACT to key nope because its type is not LIST."
    ops = [AlterConfigOp("retention.ms", AlterOp.SET, "1"), AlterConfigOp("retention.ms", AlterOp.DELETE)]
    with pytest.raises(ConfigError, match="Error due to duplicate config keys") as error:
        incremental_alter({}, ops)
    assert error.value.error_code == INVALID_REQUEST


def test_alter_validates_the_result(topics: TopicConfigs) -> None:
    assert topics.alter({"retention.ms": "1"}, [AlterConfigOp("retention.ms", AlterOp.SET, " 5 ")]) == {
        "retention.ms": "5"
    }
    with pytest.raises(ConfigError, match="Unknown topic config name: retention"):
        topics.alter({}, [AlterConfigOp("retention", AlterOp.SET, "5")])
    # Repeated list elements are dropped, as Kafka 4.x does while parsing.
    ops = [AlterConfigOp("cleanup.policy", AlterOp.SET, "delete,compact,delete")]
    assert topics.alter({}, ops) == {"cleanup.policy": "delete,compact"}
