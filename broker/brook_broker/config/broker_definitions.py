"""The broker configs Brook accepts, as data: Kafka 4.x names, types, defaults and validators.

Read by `config.broker` (parsing ``server.properties``, env vars and overrides) and
`config.describe` (DescribeConfigs on a BROKER resource). Defaults are Kafka's except the
three that make ``brook`` start on a laptop with no file at all: ``node.id=1``,
``listeners=PLAINTEXT://127.0.0.1:9092`` and ``log.dir=/tmp/brook-logs`` (``log.dirs``
stays unset, as in Kafka, so that setting either one works).

``dynamic=True`` marks what Kafka's ``DynamicBrokerConfig`` lets IncrementalAlterConfigs
change at runtime (DescribeConfigs reports the rest as read-only). ``honoured=False``
marks configs Brook accepts so existing files keep working but does not act on; their
documentation says so.
"""

from __future__ import annotations

from brook_broker.config.configdef import (
    ConfigError,
    ConfigKey,
    ConfigType,
    ConfigValue,
    Custom,
    Importance,
    OneOf,
    Range,
    ValidList,
)
from brook_broker.config.listeners import DEFAULT_SECURITY_PROTOCOL_MAP, parse_quorum_voters
from brook_broker.config.topic_definitions import LONG_MAX, TOPIC_CONFIGS

__all__ = ["BROKER_CONFIGS", "ENV_PREFIX", "env_name", "resolve_env_name"]

#: Environment variables ``BROOK_<NAME>`` set broker configs; see `env_name`.
ENV_PREFIX = "BROOK_"

_BOOLEAN, _INT, _SHORT, _LONG = ConfigType.BOOLEAN, ConfigType.INT, ConfigType.SHORT, ConfigType.LONG
_DOUBLE, _LIST, _STRING, _PASSWORD = (
    ConfigType.DOUBLE,
    ConfigType.LIST,
    ConfigType.STRING,
    ConfigType.PASSWORD,
)
_CLASS = ConfigType.CLASS
_HIGH, _MEDIUM, _LOW = Importance.HIGH, Importance.MEDIUM, Importance.LOW
_INT_MAX = 2**31 - 1
_DOUBLE_MAX = 1.7976931348623157e308
_PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")


def _check_voters(name: str, value: ConfigValue) -> None:
    if isinstance(value, list):
        parse_quorum_voters(name=name, values=value)


def _check_bootstrap_servers(name: str, value: ConfigValue) -> None:
    for entry in value if isinstance(value, list) else []:
        host, sep, port = entry.rpartition(":")
        if not (sep and host and port.isdigit()):
            raise ConfigError(
                f"Failed to parse host name from {entry} for the configuration {name}. "
                'Each entry should be in the form "{host}:{port}"'
            )


def _b(
    name: str,
    config_type: ConfigType,
    *,
    default: ConfigValue,
    importance: Importance,
    doc: str,
    validator: Range | OneOf | ValidList | Custom | None = None,
    dynamic: bool = False,
    honoured: bool = True,
    internal: bool = False,
    kafka_default: bool = True,
) -> ConfigKey:
    return ConfigKey(
        name=name,
        type=config_type,
        default=default,
        importance=importance,
        documentation=doc,
        validator=validator,
        dynamic=dynamic,
        honoured=honoured,
        internal=internal,
        kafka_default=kafka_default,
    )


def _topic_default(name: str, topic_name: str, *, importance: Importance, dynamic: bool = True) -> ConfigKey:
    """A broker config that is the default of a topic config: same type, default and rule."""
    topic = TOPIC_CONFIGS[topic_name]
    return ConfigKey(
        name=name,
        type=topic.type,
        default=topic.default,
        importance=importance,
        documentation=f"Default {topic_name} for topics that do not set it. {topic.documentation}",
        validator=topic.validator,
        dynamic=dynamic,
        honoured=topic.honoured,
    )


# fmt: off
_DEFINITIONS: tuple[ConfigKey, ...] = (
    # --- node identity and KRaft ---
    _b("node.id", _INT, default=1, importance=_HIGH, validator=Range(0), kafka_default=False,
       doc="Id of this node in the cluster; every broker and controller needs a distinct one."),
    _b("broker.id", _INT, default=-1, importance=_HIGH,
       doc="Old name of node.id; if set it must equal node.id."),
    _b("process.roles", _LIST, default=[], importance=_HIGH, kafka_default=False,
       validator=ValidList(("broker", "controller"), allow_empty=True),
       doc="Roles this node plays: 'broker', 'controller' or both. Empty runs Brook's single-node mode "
           "with the metadata quorum built in."),
    _b("cluster.id", _STRING, default=None, importance=_HIGH,
       doc="Cluster id this node belongs to (Kafka keeps it in meta.properties; Brook also "
           "accepts it here)."),
    _b("broker.rack", _STRING, default=None, importance=_MEDIUM,
       doc="Rack (or zone) of this broker, used to spread replicas and for fetch-from-follower."),
    _b("controller.quorum.voters", _LIST, default=[], importance=_HIGH,
       validator=Custom(_check_voters, "non-empty list"),
       doc="Static controller quorum as id@host:port entries."),
    _b("controller.quorum.bootstrap.servers", _LIST, default=[], importance=_HIGH,
       validator=Custom(_check_bootstrap_servers, "non-empty list"),
       doc="Controllers to contact first when the quorum is discovered dynamically (KIP-853)."),
    _b("controller.listener.names", _LIST, default=None, importance=_HIGH, validator=ValidList(),
       doc="Comma-separated names of the listeners controllers use; the first one is used to reach the "
           "quorum."),
    _b("controller.quorum.election.timeout.ms", _INT, default=1000, importance=_HIGH, validator=Range(0),
       doc="Longest time without a leader before a voter starts an election."),
    _b("controller.quorum.fetch.timeout.ms", _INT, default=2000, importance=_HIGH, validator=Range(0),
       doc="Longest time without a successful fetch from the leader before a follower becomes a candidate."),
    _b("controller.quorum.election.backoff.max.ms", _INT, default=1000, importance=_HIGH, validator=Range(0),
       doc="Upper bound of the randomised back-off before a new election."),
    _b("controller.quorum.append.linger.ms", _INT, default=25, importance=_MEDIUM, validator=Range(0),
       doc="How long the quorum leader batches metadata records before appending them."),
    _b("controller.quorum.request.timeout.ms", _INT, default=2000, importance=_MEDIUM, validator=Range(0),
       doc="Timeout of quorum RPCs (Vote, BeginQuorumEpoch, Fetch)."),
    _b("controller.quorum.retry.backoff.ms", _INT, default=20, importance=_LOW, validator=Range(0),
       doc="Back-off before retrying a failed quorum RPC."),
    _b("broker.heartbeat.interval.ms", _INT, default=2000, importance=_MEDIUM,
       doc="Interval between a broker's heartbeats to the active controller."),
    _b("broker.session.timeout.ms", _INT, default=9000, importance=_MEDIUM,
       doc="A broker that has not heartbeated for this long is fenced."),
    _b("initial.broker.registration.timeout.ms", _INT, default=60000, importance=_MEDIUM,
       doc="How long a starting broker waits for its registration before giving up."),
    _b("metadata.log.dir", _STRING, default=None, importance=_HIGH,
       doc="Directory of the metadata log; defaults to the first log directory."),
    _b("metadata.log.segment.bytes", _INT, default=1_073_741_824, importance=_HIGH,
       validator=Range(8_388_608),
       doc="Segment size of the metadata log."),
    _b("metadata.log.segment.ms", _LONG, default=604_800_000, importance=_HIGH,
       doc="Age at which the metadata log rolls a new segment."),
    _b("metadata.max.retention.bytes", _LONG, default=104_857_600, importance=_HIGH,
       doc="Metadata log size beyond which segments covered by a snapshot are deleted."),
    _b("metadata.max.retention.ms", _LONG, default=604_800_000, importance=_HIGH,
       doc="Age beyond which metadata log segments covered by a snapshot are deleted."),
    _b("metadata.log.max.record.bytes.between.snapshots", _LONG, default=20_971_520, importance=_HIGH,
       validator=Range(1),
       doc="Bytes of new metadata records after which a snapshot is written."),
    _b("metadata.log.max.snapshot.interval.ms", _LONG, default=3_600_000, importance=_HIGH,
       validator=Range(0),
       doc="Longest time between metadata snapshots when records have been added; 0 disables the timer."),
    _b("metadata.max.idle.interval.ms", _INT, default=500, importance=_LOW, validator=Range(0),
       doc="Interval at which an idle active controller appends a no-op record."),
    # --- listeners and sockets ---
    _b("listeners", _LIST, default=["PLAINTEXT://127.0.0.1:9092"], importance=_HIGH, validator=ValidList(),
       dynamic=True,
       doc="Endpoints to listen on, as NAME://host:port; an empty host binds every interface, port 0 a free "
           "port."),
    _b("advertised.listeners", _LIST, default=None, importance=_HIGH, validator=ValidList(),
       doc="Endpoints handed to clients, if they differ from listeners (never 0.0.0.0)."),
    _b("listener.security.protocol.map", _STRING, default=DEFAULT_SECURITY_PROTOCOL_MAP, importance=_LOW,
       dynamic=True,
       doc="Security protocol of each listener name, as NAME:PROTOCOL pairs."),
    _b("inter.broker.listener.name", _STRING, default=None, importance=_MEDIUM,
       doc="Listener brokers use to talk to each other; defaults to the one named after "
           "security.inter.broker.protocol."),
    _b("security.inter.broker.protocol", _STRING, default="PLAINTEXT", importance=_MEDIUM,
       validator=OneOf(_PROTOCOLS),
       doc="Security protocol between brokers when inter.broker.listener.name is not set."),
    _b("socket.send.buffer.bytes", _INT, default=102_400, importance=_HIGH,
       doc="SO_SNDBUF of client sockets; -1 keeps the OS default."),
    _b("socket.receive.buffer.bytes", _INT, default=102_400, importance=_HIGH,
       doc="SO_RCVBUF of client sockets; -1 keeps the OS default."),
    _b("socket.request.max.bytes", _INT, default=104_857_600, importance=_HIGH, validator=Range(1),
       doc="Largest request frame accepted; bigger ones close the connection."),
    _b("socket.listen.backlog.size", _INT, default=50, importance=_MEDIUM, validator=Range(1),
       doc="Backlog of pending connections on each listening socket."),
    _b("connections.max.idle.ms", _LONG, default=600_000, importance=_MEDIUM,
       doc="Connections idle for longer than this are closed."),
    _b("queued.max.requests", _INT, default=500, importance=_HIGH, validator=Range(1),
       doc="Requests that may wait for processing before the broker stops reading from sockets."),
    _b("queued.max.request.bytes", _LONG, default=-1, importance=_MEDIUM,
       doc="Bytes of queued requests before the broker stops reading; -1 means no limit."),
    _b("max.connections", _INT, default=_INT_MAX, importance=_MEDIUM, validator=Range(0), dynamic=True,
       doc="Connections the broker accepts in total."),
    _b("max.connections.per.ip", _INT, default=_INT_MAX, importance=_MEDIUM, validator=Range(0), dynamic=True,
       doc="Connections the broker accepts from one IP address."),
    _b("max.connections.per.ip.overrides", _STRING, default="", importance=_MEDIUM, dynamic=True,
       doc="Per-host exceptions to max.connections.per.ip, as host:count pairs."),
    _b("num.network.threads", _INT, default=3, importance=_HIGH, validator=Range(1), dynamic=True,
       honoured=False,
       doc="Threads that read and write sockets (Brook uses one event loop)."),
    _b("num.io.threads", _INT, default=8, importance=_HIGH, validator=Range(1), dynamic=True, honoured=False,
       doc="Threads that process requests (Brook uses one event loop)."),
    _b("background.threads", _INT, default=10, importance=_HIGH, validator=Range(1), dynamic=True,
       honoured=False,
       doc="Threads for background tasks."),
    _b("num.recovery.threads.per.data.dir", _INT, default=2, importance=_HIGH, validator=Range(1),
       dynamic=True, honoured=False,
       doc="Threads per log directory for recovery at startup and flushing at shutdown."),
    # --- security (TLS and SASL basics) ---
    _b("sasl.enabled.mechanisms", _LIST, default=["GSSAPI"], importance=_MEDIUM,
       validator=ValidList(allow_empty=True), dynamic=True,
       doc="SASL mechanisms the broker offers."),
    _b("sasl.mechanism.inter.broker.protocol", _STRING, default="GSSAPI", importance=_MEDIUM, dynamic=True,
       doc="SASL mechanism brokers use with each other."),
    _b("sasl.mechanism.controller.protocol", _STRING, default="GSSAPI", importance=_HIGH,
       doc="SASL mechanism used to talk to controllers."),
    _b("ssl.keystore.type", _STRING, default="JKS", importance=_MEDIUM, dynamic=True,
       doc="Format of the key store: Brook reads PEM."),
    _b("ssl.keystore.location", _STRING, default=None, importance=_MEDIUM, dynamic=True,
       doc="File holding the broker's certificate and private key."),
    _b("ssl.keystore.password", _PASSWORD, default=None, importance=_MEDIUM, dynamic=True,
       doc="Password of the key store file."),
    _b("ssl.key.password", _PASSWORD, default=None, importance=_MEDIUM, dynamic=True,
       doc="Password of the private key in the key store."),
    _b("ssl.keystore.certificate.chain", _PASSWORD, default=None, importance=_MEDIUM, dynamic=True,
       doc="PEM certificate chain given inline instead of a key store file."),
    _b("ssl.keystore.key", _PASSWORD, default=None, importance=_MEDIUM, dynamic=True,
       doc="PEM private key given inline instead of a key store file."),
    _b("ssl.truststore.type", _STRING, default="JKS", importance=_MEDIUM, dynamic=True,
       doc="Format of the trust store: Brook reads PEM."),
    _b("ssl.truststore.location", _STRING, default=None, importance=_MEDIUM, dynamic=True,
       doc="File holding the CA certificates that client certificates are checked against."),
    _b("ssl.truststore.password", _PASSWORD, default=None, importance=_MEDIUM, dynamic=True,
       doc="Password of the trust store file."),
    _b("ssl.truststore.certificates", _PASSWORD, default=None, importance=_MEDIUM, dynamic=True,
       doc="PEM CA certificates given inline instead of a trust store file."),
    _b("ssl.client.auth", _STRING, default="none", importance=_MEDIUM, dynamic=True,
       validator=OneOf(("required", "requested", "none")),
       doc="Whether TLS clients must present a certificate."),
    _b("authorizer.class.name", _STRING, default="", importance=_LOW, honoured=False,
       doc="Authorizer implementation; empty disables authorization."),
    # --- log storage ---
    _b("log.dir", _LIST, default=["/tmp/brook-logs"], importance=_HIGH, validator=ValidList(),
       doc="Log directory (comma-separated for several) used when log.dirs is not set."),
    _b("log.dirs", _LIST, default=None, importance=_HIGH, validator=ValidList(),
       doc="Comma-separated log directories; takes precedence over log.dir."),
    _b("num.partitions", _INT, default=1, importance=_MEDIUM, validator=Range(1),
       doc="Partitions of auto-created topics and of topics created without a count."),
    _b("default.replication.factor", _INT, default=1, importance=_MEDIUM,
       doc="Replication factor of auto-created topics and of topics created without one."),
    _topic_default("min.insync.replicas", "min.insync.replicas", importance=_HIGH),
    _b("auto.create.topics.enable", _BOOLEAN, default=True, importance=_HIGH,
       doc="Create a topic when a client asks for metadata of a topic that does not exist."),
    _b("delete.topic.enable", _BOOLEAN, default=True, importance=_HIGH,
       doc="Allow DeleteTopics; when false topic deletion is refused."),
    _topic_default("message.max.bytes", "max.message.bytes", importance=_HIGH),
    _topic_default("log.segment.bytes", "segment.bytes", importance=_HIGH),
    _b("log.roll.ms", _LONG, default=None, importance=_HIGH, dynamic=True,
       doc="Default segment.ms; if not set, log.roll.hours is used."),
    _b("log.roll.hours", _INT, default=168, importance=_HIGH, validator=Range(1),
       doc="Default segment.ms in hours, used when log.roll.ms is not set."),
    _b("log.roll.jitter.ms", _LONG, default=None, importance=_HIGH, dynamic=True,
       doc="Default segment.jitter.ms; if not set, log.roll.jitter.hours is used."),
    _b("log.roll.jitter.hours", _INT, default=0, importance=_HIGH, validator=Range(0),
       doc="Default segment.jitter.ms in hours, used when log.roll.jitter.ms is not set."),
    _b("log.retention.ms", _LONG, default=None, importance=_HIGH, dynamic=True,
       doc="Default retention.ms; -1 keeps data forever; if not set, log.retention.minutes is used."),
    _b("log.retention.minutes", _INT, default=None, importance=_HIGH,
       doc="Default retention.ms in minutes, used when log.retention.ms is not set."),
    _b("log.retention.hours", _INT, default=168, importance=_HIGH,
       doc="Default retention.ms in hours, used when neither log.retention.ms nor log.retention.minutes is "
           "set."),
    _topic_default("log.retention.bytes", "retention.bytes", importance=_HIGH),
    _b("log.retention.check.interval.ms", _LONG, default=300_000, importance=_MEDIUM, validator=Range(1),
       doc="How often the broker looks for segments that retention allows it to delete."),
    _topic_default("log.cleanup.policy", "cleanup.policy", importance=_MEDIUM),
    _topic_default("log.index.size.max.bytes", "segment.index.bytes", importance=_MEDIUM),
    _topic_default("log.index.interval.bytes", "index.interval.bytes", importance=_MEDIUM),
    _topic_default("log.flush.interval.messages", "flush.messages", importance=_HIGH),
    _b("log.flush.interval.ms", _LONG, default=None, importance=_HIGH, dynamic=True,
       doc="Default flush.ms; if not set, log.flush.scheduler.interval.ms is used."),
    _b("log.flush.scheduler.interval.ms", _LONG, default=LONG_MAX, importance=_HIGH,
       doc="How often the flusher checks whether a log needs an fsync."),
    _b("log.flush.offset.checkpoint.interval.ms", _INT, default=60_000, importance=_HIGH, validator=Range(0),
       doc="How often recovery points are written to the recovery-point-offset-checkpoint file."),
    _b("log.flush.start.offset.checkpoint.interval.ms", _INT, default=60_000, importance=_HIGH,
       validator=Range(0),
       doc="How often log start offsets are written to their checkpoint file."),
    _topic_default("log.segment.delete.delay.ms", "file.delete.delay.ms", importance=_HIGH),
    _topic_default("log.preallocate", "preallocate", importance=_MEDIUM),
    _topic_default("log.message.timestamp.type", "message.timestamp.type", importance=_MEDIUM),
    _topic_default("log.message.timestamp.before.max.ms", "message.timestamp.before.max.ms",
                   importance=_MEDIUM),
    _topic_default("log.message.timestamp.after.max.ms", "message.timestamp.after.max.ms",
                   importance=_MEDIUM),
    _topic_default("log.local.retention.ms", "local.retention.ms", importance=_MEDIUM),
    _topic_default("log.local.retention.bytes", "local.retention.bytes", importance=_MEDIUM),
    _topic_default("compression.type", "compression.type", importance=_HIGH),
    _topic_default("compression.gzip.level", "compression.gzip.level", importance=_MEDIUM),
    _topic_default("compression.lz4.level", "compression.lz4.level", importance=_MEDIUM),
    _topic_default("compression.zstd.level", "compression.zstd.level", importance=_MEDIUM),
    _topic_default("unclean.leader.election.enable", "unclean.leader.election.enable", importance=_HIGH),
    # --- log cleaner ---
    _b("log.cleaner.enable", _BOOLEAN, default=True, importance=_MEDIUM,
       doc="Run the log cleaner, which compacts topics whose cleanup.policy includes compact."),
    _b("log.cleaner.threads", _INT, default=1, importance=_MEDIUM, validator=Range(0), dynamic=True,
       doc="Threads that compact logs."),
    _b("log.cleaner.backoff.ms", _LONG, default=15_000, importance=_MEDIUM, validator=Range(0), dynamic=True,
       doc="Pause of the cleaner when no log needs cleaning."),
    _b("log.cleaner.dedupe.buffer.size", _LONG, default=134_217_728, importance=_MEDIUM, dynamic=True,
       doc="Memory, across all cleaner threads, for the key-to-offset map built while compacting."),
    _b("log.cleaner.io.buffer.size", _INT, default=524_288, importance=_MEDIUM, validator=Range(0),
       dynamic=True,
       doc="Memory, across all cleaner threads, for read and write buffers."),
    _b("log.cleaner.io.buffer.load.factor", _DOUBLE, default=0.9, importance=_MEDIUM, dynamic=True,
       doc="How full the cleaner's dedupe map may get."),
    _b("log.cleaner.io.max.bytes.per.second", _DOUBLE, default=_DOUBLE_MAX, importance=_MEDIUM, dynamic=True,
       doc="Throttle on the cleaner's combined read and write rate."),
    _topic_default("log.cleaner.min.cleanable.ratio", "min.cleanable.dirty.ratio", importance=_MEDIUM),
    _topic_default("log.cleaner.delete.retention.ms", "delete.retention.ms", importance=_MEDIUM),
    _topic_default("log.cleaner.min.compaction.lag.ms", "min.compaction.lag.ms", importance=_MEDIUM),
    _topic_default("log.cleaner.max.compaction.lag.ms", "max.compaction.lag.ms", importance=_MEDIUM),
    # --- replication ---
    _b("replica.lag.time.max.ms", _LONG, default=30_000, importance=_HIGH,
       doc="A follower that has not caught up to the leader's end for this long leaves the ISR."),
    _b("replica.fetch.max.bytes", _INT, default=1_048_576, importance=_MEDIUM, validator=Range(0),
       doc="Bytes a follower asks for per partition in one fetch."),
    _b("replica.fetch.response.max.bytes", _INT, default=10_485_760, importance=_MEDIUM, validator=Range(0),
       doc="Bytes a follower asks for in one whole fetch response."),
    _b("replica.fetch.wait.max.ms", _INT, default=500, importance=_HIGH,
       doc="How long a follower's fetch may wait on the leader for data."),
    _b("replica.fetch.min.bytes", _INT, default=1, importance=_HIGH,
       doc="Bytes a follower's fetch waits for before the leader answers."),
    _b("replica.fetch.backoff.ms", _INT, default=1000, importance=_MEDIUM, validator=Range(0),
       doc="Pause of a follower after a failed fetch."),
    _b("replica.socket.timeout.ms", _INT, default=30_000, importance=_HIGH,
       doc="Socket timeout of follower fetches."),
    _b("replica.high.watermark.checkpoint.interval.ms", _LONG, default=5000, importance=_HIGH,
       doc="How often high watermarks are written to disk."),
    _b("num.replica.fetchers", _INT, default=1, importance=_HIGH, validator=Range(1), dynamic=True,
       doc="Fetcher tasks per source broker that replicate into this broker."),
    _b("fetch.max.bytes", _INT, default=57_671_680, importance=_MEDIUM, validator=Range(1024),
       doc="Upper bound on the bytes a consumer fetch may return."),
    _b("auto.leader.rebalance.enable", _BOOLEAN, default=True, importance=_HIGH,
       doc="Move leadership back to preferred replicas when they are in sync."),
    _b("leader.imbalance.check.interval.seconds", _LONG, default=300, importance=_HIGH, validator=Range(1),
       doc="How often the controller checks for leaders that are not the preferred replica."),
    _b("controlled.shutdown.enable", _BOOLEAN, default=True, importance=_MEDIUM,
       doc="Move leadership away from a broker before it shuts down."),
    # --- group coordinator ---
    _b("group.initial.rebalance.delay.ms", _INT, default=3000, importance=_MEDIUM,
       doc="How long the coordinator waits for more members before the first rebalance of an empty classic "
           "group."),
    _b("group.min.session.timeout.ms", _INT, default=6000, importance=_MEDIUM,
       doc="Smallest session timeout a classic-group member may ask for."),
    _b("group.max.session.timeout.ms", _INT, default=1_800_000, importance=_MEDIUM,
       doc="Largest session timeout a classic-group member may ask for."),
    _b("group.max.size", _INT, default=_INT_MAX, importance=_MEDIUM, validator=Range(1),
       doc="Members a classic group may have."),
    _b("group.coordinator.rebalance.protocols", _LIST, default=["classic", "consumer", "streams"],
       importance=_MEDIUM,
       validator=ValidList(("consumer", "classic", "share", "streams")),
       doc="Group protocols the coordinator serves."),
    _b("group.consumer.session.timeout.ms", _INT, default=45_000, importance=_MEDIUM, validator=Range(1),
       doc="Session timeout of consumer-protocol (KIP-848) group members."),
    _b("group.consumer.min.session.timeout.ms", _INT, default=45_000, importance=_MEDIUM, validator=Range(1),
       doc="Smallest session timeout of consumer-protocol members."),
    _b("group.consumer.max.session.timeout.ms", _INT, default=60_000, importance=_MEDIUM, validator=Range(1),
       doc="Largest session timeout of consumer-protocol members."),
    _b("group.consumer.heartbeat.interval.ms", _INT, default=5000, importance=_MEDIUM, validator=Range(1),
       doc="Heartbeat interval the coordinator gives consumer-protocol members."),
    _b("group.consumer.min.heartbeat.interval.ms", _INT, default=5000, importance=_MEDIUM, validator=Range(1),
       doc="Smallest heartbeat interval of consumer-protocol members."),
    _b("group.consumer.max.heartbeat.interval.ms", _INT, default=15_000, importance=_MEDIUM,
       validator=Range(1),
       doc="Largest heartbeat interval of consumer-protocol members."),
    _b("group.consumer.max.size", _INT, default=_INT_MAX, importance=_MEDIUM, validator=Range(1),
       doc="Members a consumer-protocol group may have."),
    _b("group.consumer.assignors", _LIST, default=["uniform", "range"], importance=_MEDIUM,
       validator=ValidList(),
       doc="Server-side assignors for consumer-protocol groups; the first is the default."),
    _b("offsets.topic.num.partitions", _INT, default=50, importance=_HIGH, validator=Range(1),
       doc="Partitions of __consumer_offsets (fixed once the topic exists)."),
    _b("offsets.topic.replication.factor", _SHORT, default=3, importance=_HIGH, validator=Range(1),
       doc="Replication factor of __consumer_offsets; creating it fails until that many brokers are up."),
    _b("offsets.topic.segment.bytes", _INT, default=104_857_600, importance=_HIGH, validator=Range(1),
       doc="Segment size of __consumer_offsets."),
    _b("offsets.retention.minutes", _INT, default=10_080, importance=_HIGH, validator=Range(1),
       doc="How long committed offsets of an empty group are kept."),
    _b("offsets.retention.check.interval.ms", _LONG, default=600_000, importance=_HIGH, validator=Range(1),
       doc="How often expired offsets are looked for."),
    _b("offsets.commit.timeout.ms", _INT, default=5000, importance=_HIGH, validator=Range(1),
       doc="How long an offset commit waits for its write to be replicated."),
    _b("offset.metadata.max.bytes", _INT, default=4096, importance=_HIGH,
       doc="Largest metadata string allowed with a committed offset."),
    # --- transactions and producer ids ---
    _b("transaction.state.log.num.partitions", _INT, default=50, importance=_HIGH, validator=Range(1),
       doc="Partitions of __transaction_state (fixed once the topic exists)."),
    _b("transaction.state.log.replication.factor", _SHORT, default=3, importance=_HIGH, validator=Range(1),
       doc="Replication factor of __transaction_state; creating it fails until that many brokers are up."),
    _b("transaction.state.log.min.isr", _INT, default=2, importance=_HIGH, validator=Range(1),
       doc="min.insync.replicas of __transaction_state."),
    _b("transaction.state.log.segment.bytes", _INT, default=104_857_600, importance=_HIGH, validator=Range(1),
       doc="Segment size of __transaction_state."),
    _b("transaction.max.timeout.ms", _INT, default=900_000, importance=_HIGH, validator=Range(1),
       doc="Largest transaction timeout a producer may ask for."),
    _b("transactional.id.expiration.ms", _INT, default=604_800_000, importance=_HIGH, validator=Range(1),
       doc="A transactional id unused for this long is forgotten."),
    _b("transaction.abort.timed.out.transaction.cleanup.interval.ms", _INT, default=10_000, importance=_LOW,
       validator=Range(1),
       doc="How often timed-out transactions are looked for and aborted."),
    _b("transaction.remove.expired.transaction.cleanup.interval.ms", _INT, default=3_600_000,
       importance=_LOW, validator=Range(1),
       doc="How often expired transactional ids are removed."),
    _b("transaction.partition.verification.enable", _BOOLEAN, default=True, importance=_LOW, dynamic=True,
       doc="Check that a transactional produce's partition was added to the transaction (KIP-890)."),
    _b("producer.id.expiration.ms", _INT, default=86_400_000, importance=_LOW, validator=Range(1),
       dynamic=True,
       doc="Idempotence state of a producer id with no writes for this long is dropped."),
    _b("producer.id.expiration.check.interval.ms", _INT, default=600_000, importance=_LOW, validator=Range(1),
       internal=True,
       doc="How often expired producer ids are looked for."),
    # --- policies (Java class names: accepted, not loaded) ---
    _b("create.topic.policy.class.name", _CLASS, default=None, importance=_LOW, honoured=False,
       doc="Java class that vets CreateTopics requests."),
    _b("alter.config.policy.class.name", _CLASS, default=None, importance=_LOW, honoured=False,
       doc="Java class that vets AlterConfigs requests."),
)
# fmt: on

#: Every broker config Brook knows, by name.
BROKER_CONFIGS: dict[str, ConfigKey] = {key.name: key for key in _DEFINITIONS}


def env_name(name: str) -> str:
    """The environment variable for a config: ``BROOK_`` + upper case, dots and dashes as ``_``.

    ``log.dirs`` is ``BROOK_LOG_DIRS``; `resolve_env_name` goes back through the table, so
    no escaping of underscores is needed (Kafka's names have none).
    """
    return ENV_PREFIX + name.upper().replace(".", "_").replace("-", "_")


_ENV_NAMES = {env_name(name): name for name in BROKER_CONFIGS}


def resolve_env_name(variable: str) -> str | None:
    """The config a ``BROOK_*`` variable sets, or None if it names none."""
    return _ENV_NAMES.get(variable)
