"""`BrokerConfig`: the broker's static configuration, under Kafka's property names.

Every layer above `config` reads settings from one `BrokerConfig`, built at startup by
`load_broker_config` (the CLI calls it) from, lowest precedence first: the definitions'
defaults, a ``server.properties`` file, ``BROOK_*`` environment variables (see
`config.sources`) and ``--override key=value`` arguments. Attributes are the Kafka names
in snake case (``log.retention.ms`` is ``log_retention_ms``, ``log.dirs`` is `log_dirs`);
the pydantic aliases are the dotted names.

Values are already effective where Kafka derives them: `listeners` and
`advertised_listeners` are parsed `Listener` objects (advertised defaults to listeners),
`log_dirs` falls back to ``log.dir``, `inter_broker_listener_name` falls back to
``security.inter.broker.protocol``. The topic-config defaults that Kafka computes from
several properties (``retention.ms`` from ms/minutes/hours, ``segment.ms`` from
``log.roll.ms``/``log.roll.hours``, ...) are the properties `retention_ms`, `segment_ms`,
`segment_jitter_ms` and `flush_ms`; `topic_defaults` has all of them.

Build instances with `load_broker_config` or `BrokerConfig.from_properties` (tests:
``BrokerConfig.from_properties({"log.dirs": str(tmp_path)})``), never with the pydantic
constructor: only those parse with Kafka's rules and messages, derive the effective
values, check the cross-config rules, and remember the raw strings DescribeConfigs reports.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, PrivateAttr, SecretStr, ValidationError

from brook_broker.config import broker_checks
from brook_broker.config.broker_definitions import BROKER_CONFIGS
from brook_broker.config.configdef import ConfigError, ConfigValue
from brook_broker.config.layers import topic_default
from brook_broker.config.listeners import Listener, QuorumVoter, SecurityProtocol
from brook_broker.config.sources import Origin, merge_sources
from brook_broker.config.topic_definitions import TOPIC_CONFIG_NAMES

__all__ = ["BrokerConfig", "Origin", "Role", "load_broker_config"]

Role = Literal["broker", "controller"]


def _kafka_name(attribute: str) -> str:
    # Kafka's config names never contain underscores, so the mapping is one-to-one.
    return attribute.replace("_", ".")


class BrokerConfig(BaseModel):
    """The effective static broker configuration (see the module docstring)."""

    model_config = ConfigDict(alias_generator=_kafka_name, populate_by_name=True, frozen=True, extra="forbid")

    # Node identity and KRaft.
    node_id: int
    broker_id: int
    process_roles: list[Role]
    cluster_id: str | None
    broker_rack: str | None
    controller_quorum_voters: list[QuorumVoter]
    controller_quorum_bootstrap_servers: list[str]
    controller_listener_names: list[str]
    controller_quorum_election_timeout_ms: int
    controller_quorum_fetch_timeout_ms: int
    controller_quorum_election_backoff_max_ms: int
    controller_quorum_append_linger_ms: int
    controller_quorum_request_timeout_ms: int
    controller_quorum_retry_backoff_ms: int
    broker_heartbeat_interval_ms: int
    broker_session_timeout_ms: int
    initial_broker_registration_timeout_ms: int
    metadata_log_dir: str | None
    metadata_log_segment_bytes: int
    metadata_log_segment_ms: int
    metadata_max_retention_bytes: int
    metadata_max_retention_ms: int
    metadata_log_max_record_bytes_between_snapshots: int
    metadata_log_max_snapshot_interval_ms: int
    metadata_max_idle_interval_ms: int

    # Listeners and sockets (listeners, advertised.listeners and the map are parsed).
    listeners: list[Listener]
    advertised_listeners: list[Listener]
    listener_security_protocol_map: dict[str, SecurityProtocol]
    inter_broker_listener_name: str
    security_inter_broker_protocol: str
    socket_send_buffer_bytes: int
    socket_receive_buffer_bytes: int
    socket_request_max_bytes: int
    socket_listen_backlog_size: int
    connections_max_idle_ms: int
    queued_max_requests: int
    queued_max_request_bytes: int
    max_connections: int
    max_connections_per_ip: int
    max_connections_per_ip_overrides: str
    num_network_threads: int
    num_io_threads: int
    background_threads: int
    num_recovery_threads_per_data_dir: int

    # TLS and SASL basics; passwords are SecretStr so they never print.
    sasl_enabled_mechanisms: list[str]
    sasl_mechanism_inter_broker_protocol: str
    sasl_mechanism_controller_protocol: str
    ssl_keystore_type: str
    ssl_keystore_location: str | None
    ssl_keystore_password: SecretStr | None
    ssl_key_password: SecretStr | None
    ssl_keystore_certificate_chain: SecretStr | None
    ssl_keystore_key: SecretStr | None
    ssl_truststore_type: str
    ssl_truststore_location: str | None
    ssl_truststore_password: SecretStr | None
    ssl_truststore_certificates: SecretStr | None
    ssl_client_auth: str
    authorizer_class_name: str

    # Log storage and the broker-wide defaults of topic configs.
    log_dir: list[str]
    log_dirs: list[Path]
    num_partitions: int
    default_replication_factor: int
    min_insync_replicas: int
    auto_create_topics_enable: bool
    delete_topic_enable: bool
    message_max_bytes: int
    log_segment_bytes: int
    log_roll_ms: int | None
    log_roll_hours: int
    log_roll_jitter_ms: int | None
    log_roll_jitter_hours: int
    log_retention_ms: int | None
    log_retention_minutes: int | None
    log_retention_hours: int
    log_retention_bytes: int
    log_retention_check_interval_ms: int
    log_cleanup_policy: list[str]
    log_index_size_max_bytes: int
    log_index_interval_bytes: int
    log_flush_interval_messages: int
    log_flush_interval_ms: int | None
    log_flush_scheduler_interval_ms: int
    log_flush_offset_checkpoint_interval_ms: int
    log_flush_start_offset_checkpoint_interval_ms: int
    log_segment_delete_delay_ms: int
    log_preallocate: bool
    log_message_timestamp_type: str
    log_message_timestamp_before_max_ms: int
    log_message_timestamp_after_max_ms: int
    log_local_retention_ms: int
    log_local_retention_bytes: int
    compression_type: str
    compression_gzip_level: int
    compression_lz4_level: int
    compression_zstd_level: int
    unclean_leader_election_enable: bool

    # Log cleaner.
    log_cleaner_enable: bool
    log_cleaner_threads: int
    log_cleaner_backoff_ms: int
    log_cleaner_dedupe_buffer_size: int
    log_cleaner_io_buffer_size: int
    log_cleaner_io_buffer_load_factor: float
    log_cleaner_io_max_bytes_per_second: float
    log_cleaner_min_cleanable_ratio: float
    log_cleaner_delete_retention_ms: int
    log_cleaner_min_compaction_lag_ms: int
    log_cleaner_max_compaction_lag_ms: int

    # Replication.
    replica_lag_time_max_ms: int
    replica_fetch_max_bytes: int
    replica_fetch_response_max_bytes: int
    replica_fetch_wait_max_ms: int
    replica_fetch_min_bytes: int
    replica_fetch_backoff_ms: int
    replica_socket_timeout_ms: int
    replica_high_watermark_checkpoint_interval_ms: int
    num_replica_fetchers: int
    fetch_max_bytes: int
    auto_leader_rebalance_enable: bool
    leader_imbalance_check_interval_seconds: int
    controlled_shutdown_enable: bool

    # Group coordinator.
    group_initial_rebalance_delay_ms: int
    group_min_session_timeout_ms: int
    group_max_session_timeout_ms: int
    group_max_size: int
    group_coordinator_rebalance_protocols: list[str]
    group_consumer_session_timeout_ms: int
    group_consumer_min_session_timeout_ms: int
    group_consumer_max_session_timeout_ms: int
    group_consumer_heartbeat_interval_ms: int
    group_consumer_min_heartbeat_interval_ms: int
    group_consumer_max_heartbeat_interval_ms: int
    group_consumer_max_size: int
    group_consumer_assignors: list[str]
    offsets_topic_num_partitions: int
    offsets_topic_replication_factor: int
    offsets_topic_segment_bytes: int
    offsets_retention_minutes: int
    offsets_retention_check_interval_ms: int
    offsets_commit_timeout_ms: int
    offset_metadata_max_bytes: int

    # Transactions and producer ids.
    transaction_state_log_num_partitions: int
    transaction_state_log_replication_factor: int
    transaction_state_log_min_isr: int
    transaction_state_log_segment_bytes: int
    transaction_max_timeout_ms: int
    transactional_id_expiration_ms: int
    transaction_abort_timed_out_transaction_cleanup_interval_ms: int
    transaction_remove_expired_transaction_cleanup_interval_ms: int
    transaction_partition_verification_enable: bool
    producer_id_expiration_ms: int
    producer_id_expiration_check_interval_ms: int

    # Java policy classes: accepted, never loaded.
    create_topic_policy_class_name: str | None
    alter_config_policy_class_name: str | None

    # What the values were built from, for DescribeConfigs and for logging at startup.
    _values: dict[str, ConfigValue] = PrivateAttr(default_factory=dict)
    _raw: dict[str, str] = PrivateAttr(default_factory=dict)
    _origins: dict[str, Origin] = PrivateAttr(default_factory=dict)
    _unknown: dict[str, str] = PrivateAttr(default_factory=dict)

    @classmethod
    def from_properties(
        cls,
        properties: Mapping[str, str],
        *,
        origins: Mapping[str, Origin] | None = None,
    ) -> BrokerConfig:
        """Parse raw ``name=value`` strings (unknown names are kept aside, not rejected).

        Raises `ConfigError` with Kafka's one-line message for the first invalid value.
        """
        known = {name: raw for name, raw in properties.items() if name in BROKER_CONFIGS}
        # Kafka's populateSynonyms: broker.id and node.id name the same id; either one sets both.
        for one, other in (("node.id", "broker.id"), ("broker.id", "node.id")):
            if one in known and other not in known:
                known[other] = known[one]
        # Parse in definition order so that the first error reported is stable.
        values = {
            name: (key.parse(known[name]) if name in known else key.default)
            for name, key in BROKER_CONFIGS.items()
        }
        fields = broker_checks.effective_fields(values, given=set(known))
        try:
            config = cls.model_validate(fields)
        except ValidationError as error:
            # Values were parsed against the table already, so this means table and fields disagree.
            first = error.errors()[0]
            name = ".".join(str(part) for part in first["loc"])
            raise ConfigError(f"Invalid configuration {name}: {first['msg']}") from None
        config._values = values
        config._raw = known
        config._origins = {name: (origins or {}).get(name, Origin.FILE) for name in properties}
        config._unknown = {name: raw for name, raw in properties.items() if name not in BROKER_CONFIGS}
        broker_checks.check_consistency(config)
        return config

    def value(self, name: str) -> ConfigValue:
        """The Kafka-typed value of a known broker config (LIST as list, unset as None)."""
        if name in self._values:
            return self._values[name]
        return BROKER_CONFIGS[name].default

    def raw_value(self, name: str) -> str | None:
        """The string a file, env var or override gave for `name`, or None if none did."""
        return self._raw.get(name, self._unknown.get(name))

    def origin(self, name: str) -> Origin | None:
        """Which source set `name` (None: the default applies)."""
        return self._origins.get(name)

    @property
    def unknown_configs(self) -> dict[str, str]:
        """Supplied names that are not broker configs (each produced a warning)."""
        return dict(self._unknown)

    @property
    def is_broker(self) -> bool:
        """True unless ``process.roles`` is exactly ``controller``."""
        return not self.process_roles or "broker" in self.process_roles

    @property
    def is_controller(self) -> bool:
        """True for Brook's single-node mode (no roles) and for the controller role."""
        return not self.process_roles or "controller" in self.process_roles

    @property
    def effective_advertised_listeners(self) -> list[Listener]:
        """What Metadata responses advertise: advertised listeners that are not controller listeners."""
        return [
            listener for listener in self.advertised_listeners if listener.name not in self._controller_names
        ]

    @property
    def effective_advertised_controller_listeners(self) -> list[Listener]:
        """Controller endpoints: from advertised.listeners where given, else from listeners."""
        advertised = {listener.name: listener for listener in self.advertised_listeners}
        return [
            advertised.get(listener.name, listener)
            for listener in self.listeners
            if listener.name in self._controller_names
        ]

    @property
    def retention_ms(self) -> int:
        """Default ``retention.ms``: log.retention.ms, else .minutes, else .hours; -1 is forever."""
        return self._int_topic_default("retention.ms")

    @property
    def segment_ms(self) -> int:
        """Default ``segment.ms``: log.roll.ms, else log.roll.hours."""
        return self._int_topic_default("segment.ms")

    @property
    def segment_jitter_ms(self) -> int:
        """Default ``segment.jitter.ms``: log.roll.jitter.ms, else log.roll.jitter.hours."""
        return self._int_topic_default("segment.jitter.ms")

    @property
    def flush_ms(self) -> int:
        """Default ``flush.ms``: log.flush.interval.ms, else log.flush.scheduler.interval.ms."""
        return self._int_topic_default("flush.ms")

    def topic_defaults(self) -> dict[str, ConfigValue]:
        """Every topic config's broker-wide default (Kafka's ``extractLogConfigMap``), by topic name."""
        return {name: topic_default(name, self.value) for name in TOPIC_CONFIG_NAMES}

    @property
    def _controller_names(self) -> set[str]:
        return {name.upper() for name in self.controller_listener_names}

    def _int_topic_default(self, name: str) -> int:
        value = topic_default(name, self.value)
        assert isinstance(value, int)
        return value


def load_broker_config(
    *,
    path: Path | None,
    overrides: Sequence[str],
    env: Mapping[str, str],
) -> tuple[BrokerConfig, list[str]]:
    """Build the broker's configuration; returns it with one warning line per ignored input.

    Precedence, lowest first: defaults, the properties file at `path`, ``BROOK_*``
    variables in `env`, then `overrides` (each ``key=value``). A known key with an invalid
    value, an override without ``=``, or an unreadable file raises `ConfigError`.
    """
    merged = merge_sources(path=path, overrides=overrides, env=env)
    config = BrokerConfig.from_properties(merged.values, origins=merged.origins)
    return config, merged.warnings
