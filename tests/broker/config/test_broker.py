"""`load_broker_config`: sources and their precedence, Kafka's messages, derived values, KRaft rules."""

from __future__ import annotations

from pathlib import Path

import pytest

from brook_broker.config.broker import BrokerConfig, Origin, load_broker_config
from brook_broker.config.configdef import ConfigError
from brook_broker.config.listeners import Listener, SecurityProtocol

PLAINTEXT = SecurityProtocol.PLAINTEXT


def load(*overrides: str, env: dict[str, str] | None = None, path: Path | None = None) -> BrokerConfig:
    config, _ = load_broker_config(path=path, overrides=list(overrides), env=env or {})
    return config


def error_of(*overrides: str, env: dict[str, str] | None = None) -> str:
    with pytest.raises(ConfigError) as error:
        load(*overrides, env=env)
    message = str(error.value)
    assert "\n" not in message
    return message


def test_laptop_defaults() -> None:
    config, warnings = load_broker_config(path=None, overrides=[], env={})
    assert warnings == []
    assert config.node_id == 1
    assert config.listeners == [Listener("PLAINTEXT", "127.0.0.1", 9092, PLAINTEXT)]
    assert config.effective_advertised_listeners == config.listeners
    assert config.log_dirs == [Path("/tmp/brook-logs")]
    assert config.inter_broker_listener_name == "PLAINTEXT"
    # Everything else is Kafka's.
    assert config.num_partitions == 1
    assert config.offsets_topic_replication_factor == 3
    assert config.retention_ms == 7 * 24 * 3600 * 1000
    assert config.origin("num.partitions") is None


def test_precedence_file_then_env_then_override(tmp_path: Path) -> None:
    path = tmp_path / "server.properties"
    path.write_text("num.partitions=2\ndefault.replication.factor=2\nlog.retention.bytes=100\n")
    config, _ = load_broker_config(
        path=path,
        overrides=["num.partitions=4"],
        env={"BROOK_NUM_PARTITIONS": "3", "BROOK_DEFAULT_REPLICATION_FACTOR": "3", "OTHER": "x"},
    )
    assert (config.num_partitions, config.default_replication_factor, config.log_retention_bytes) == (
        4,
        3,
        100,
    )
    assert config.origin("num.partitions") is Origin.OVERRIDE
    assert config.origin("default.replication.factor") is Origin.ENV
    assert config.origin("log.retention.bytes") is Origin.FILE
    assert config.raw_value("num.partitions") == "4"


def test_env_names_resolve_through_the_table() -> None:
    config = load(env={"BROOK_LOG_DIRS": "/a,/b", "BROOK_LOG_RETENTION_CHECK_INTERVAL_MS": "1000"})
    assert config.log_dirs == [Path("/a"), Path("/b")]
    assert config.log_retention_check_interval_ms == 1000


def test_unknown_keys_warn_one_line_each(tmp_path: Path) -> None:
    path = tmp_path / "server.properties"
    path.write_text("foo=1\nlog.message.format.version=3.0\n")
    config, warnings = load_broker_config(
        path=path, overrides=["bar=2"], env={"BROOK_NOPE": "1", "KAFKA_HEAP_OPTS": "-Xmx1g"}
    )
    assert warnings == [
        "The environment variable 'BROOK_NOPE' does not name a known config and is ignored.",
        "The configuration 'foo' was supplied but isn't a known config.",
        "The configuration 'log.message.format.version' was supplied but isn't a known config.",
        "The configuration 'bar' was supplied but isn't a known config.",
    ]
    assert config.unknown_configs == {"foo": "1", "log.message.format.version": "3.0", "bar": "2"}


@pytest.mark.parametrize(
    ("override", "message"),
    [
        (
            "num.partitions=abc",
            "Invalid value abc for configuration num.partitions: Not a number of type INT",
        ),
        ("num.partitions=0", "Invalid value 0 for configuration num.partitions: Value must be at least 1"),
        (
            "log.cleanup.policy=compact,remove",
            "Invalid value remove for configuration log.cleanup.policy: "
            "String must be one of: compact, delete",
        ),
        (
            "auto.create.topics.enable=yes",
            "Invalid value yes for configuration auto.create.topics.enable: "
            "Expected value to be either true or false",
        ),
        (
            "log.segment.bytes=1000",
            "Invalid value 1000 for configuration log.segment.bytes: Value must be at least 1048576",
        ),
        (
            "log.message.timestamp.type=NowTime",
            "Invalid value NowTime for configuration log.message.timestamp.type: "
            "String must be one of: CreateTime, LogAppendTime",
        ),
        (
            "log.dirs=",
            "Configuration 'log.dirs' must not be empty. Valid values include: any non-empty value",
        ),
        (
            "listeners=PLAINTEXT://:1,",
            "Configuration 'listeners' values must not be empty.",
        ),
        ("nonsense", "Invalid override 'nonsense': expected key=value, for example num.partitions=3"),
        ("=3", "Invalid override '=3': expected key=value, for example num.partitions=3"),
    ],
)
def test_invalid_values_are_one_line_kafka_messages(override: str, message: str) -> None:
    assert error_of(override) == message


def test_invalid_env_value_names_the_config() -> None:
    assert error_of(env={"BROOK_NUM_PARTITIONS": "many"}) == (
        "Invalid value many for configuration num.partitions: Not a number of type INT"
    )


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load(path=tmp_path / "absent.properties")


def test_override_value_may_contain_equals() -> None:
    assert load("broker.rack=a=b").broker_rack == "a=b"


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        (["log.retention.hours=24"], 86_400_000),
        (["log.retention.hours=24", "log.retention.minutes=30"], 1_800_000),
        (["log.retention.hours=24", "log.retention.minutes=30", "log.retention.ms=1234"], 1234),
        (["log.retention.hours=-1"], -1),
        (["log.retention.ms=-5"], -1),
    ],
)
def test_retention_resolves_like_kafka(overrides: list[str], expected: int) -> None:
    assert load(*overrides).retention_ms == expected


def test_zero_retention_is_refused() -> None:
    assert (
        error_of("log.retention.ms=0")
        == "log.retention.ms must be unlimited (-1) or, greater than or equal to 1"
    )


def test_roll_and_flush_resolve_like_kafka() -> None:
    assert load("log.roll.hours=2").segment_ms == 7_200_000
    assert load("log.roll.hours=2", "log.roll.ms=500").segment_ms == 500
    assert load("log.roll.jitter.hours=1").segment_jitter_ms == 3_600_000
    assert load("log.flush.scheduler.interval.ms=700").flush_ms == 700
    assert load("log.flush.scheduler.interval.ms=700", "log.flush.interval.ms=50").flush_ms == 50
    defaults = load("log.roll.hours=2", "message.max.bytes=2000").topic_defaults()
    assert (defaults["segment.ms"], defaults["max.message.bytes"]) == (7_200_000, 2000)


def test_log_dirs_take_precedence_over_log_dir() -> None:
    assert load("log.dir=/x").log_dirs == [Path("/x")]
    assert load("log.dir=/x", "log.dirs=/y, /z").log_dirs == [Path("/y"), Path("/z")]


def test_listeners_and_advertised_listeners() -> None:
    config = load(
        "listeners=PLAINTEXT://:9092,INTERNAL://[::1]:9093",
        "advertised.listeners=PLAINTEXT://broker-0.example:9092,INTERNAL://[::1]:9093",
        "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,INTERNAL:SSL",
        "inter.broker.listener.name=internal",
    )
    assert config.listeners == [
        Listener("PLAINTEXT", None, 9092, PLAINTEXT),
        Listener("INTERNAL", "::1", 9093, SecurityProtocol.SSL),
    ]
    assert str(config.listeners[1]) == "INTERNAL://[::1]:9093"
    assert config.advertised_listeners[0] == Listener("PLAINTEXT", "broker-0.example", 9092, PLAINTEXT)
    assert config.inter_broker_listener_name == "INTERNAL"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            ["listeners=PLAINTEXT://:70000"],
            "Invalid value PLAINTEXT://:70000 for configuration listeners: "
            "port 70000 of listener PLAINTEXT is not between 0 and 65535",
        ),
        (
            ["listeners=PLAINTEXT//:9092"],
            "Invalid value PLAINTEXT//:9092 for configuration listeners: "
            "Unable to parse PLAINTEXT//:9092 to a broker endpoint",
        ),
        (
            ["listeners=EXTERNAL://:9092"],
            "Invalid value EXTERNAL://:9092 for configuration listeners: "
            "No security protocol defined for listener EXTERNAL",
        ),
        (
            ["listeners=PLAINTEXT://:9092,SSL://:9092"],
            "Each listener must have a different port, listeners: PLAINTEXT://:9092,SSL://:9092",
        ),
        (
            ["advertised.listeners=PLAINTEXT://0.0.0.0:9092"],
            "advertised.listeners cannot use the nonroutable meta-address 0.0.0.0. "
            "Use a routable IP address.",
        ),
        (
            ["inter.broker.listener.name=REPLICATION"],
            "Listener with name REPLICATION defined in inter.broker.listener.name not found in "
            "listener.security.protocol.map.",
        ),
        (
            ["listeners=SSL://:9093"],
            "inter.broker.listener.name must be a listener name defined in advertised.listeners. "
            "The valid options based on currently configured listeners are SSL",
        ),
        (
            ["listener.security.protocol.map=PLAINTEXT:TLS"],
            "Invalid value TLS for configuration listener.security.protocol.map: "
            "Security protocol must be one of PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL",
        ),
    ],
)
def test_listener_errors(overrides: list[str], message: str) -> None:
    assert error_of(*overrides) == message


def test_same_port_on_ipv4_and_ipv6_is_allowed() -> None:
    config = load(
        "listeners=PLAINTEXT://127.0.0.1:9092,OTHER://[::1]:9092",
        "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,OTHER:PLAINTEXT",
    )
    assert [listener.port for listener in config.listeners] == [9092, 9092]


def test_port_zero_means_any_free_port() -> None:
    config = load("listeners=PLAINTEXT://127.0.0.1:0,SSL://127.0.0.1:0")
    assert [listener.port for listener in config.listeners] == [0, 0]


COMBINED = [
    "process.roles=broker,controller",
    "node.id=1",
    "controller.quorum.voters=1@127.0.0.1:9093",
    "listeners=PLAINTEXT://127.0.0.1:9092,CONTROLLER://127.0.0.1:9093",
    "controller.listener.names=CONTROLLER",
]


def test_kraft_combined_node() -> None:
    config = load(*COMBINED)
    assert config.is_broker and config.is_controller
    # No explicit map and no TLS: the controller listener is taken to be PLAINTEXT (as Kafka does).
    assert config.listener_security_protocol_map["CONTROLLER"] is PLAINTEXT
    assert [listener.name for listener in config.effective_advertised_listeners] == ["PLAINTEXT"]
    assert [listener.name for listener in config.effective_advertised_controller_listeners] == ["CONTROLLER"]
    assert [str(voter) for voter in config.controller_quorum_voters] == ["1@127.0.0.1:9093"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            ["controller.quorum.voters="],
            "If using process.roles, either controller.quorum.bootstrap.servers must contain the set of "
            "bootstrap controllers or controller.quorum.voters must contain a parseable set of controllers.",
        ),
        (
            ["node.id=2"],
            "If process.roles contains the 'controller' role, the node id 2 must be included in the set of "
            "voters controller.quorum.voters=[1]",
        ),
        (
            ["controller.quorum.voters=1@host"],
            "Invalid configuration value for controller.quorum.voters. "
            "Each entry should be in the form `{id}@{host}:{port}`.",
        ),
        (
            [
                "process.roles=broker",
                "controller.quorum.voters=2@127.0.0.1:9093",
                "listeners=PLAINTEXT://127.0.0.1:9092",
            ],
            "",
        ),
        (
            ["process.roles=broker"],
            "If process.roles contains just the 'broker' role, the node id 1 must not be included in the "
            "set of voters controller.quorum.voters=[1]",
        ),
        (
            ["process.roles=brokr"],
            "Invalid value brokr for configuration process.roles: String must be one of: broker, controller",
        ),
        (
            ["broker.id=7"],
            "broker.id (7) and node.id (1) must be equal; set only node.id.",
        ),
    ],
)
def test_kraft_rules(change: list[str], message: str) -> None:
    if not message:
        config = load(*COMBINED, *change)
        assert config.is_broker and not config.is_controller
        return
    assert error_of(*COMBINED, *change) == message


def test_passwords_never_print() -> None:
    config = load("ssl.keystore.password=hunter2")
    assert config.ssl_keystore_password is not None
    assert config.ssl_keystore_password.get_secret_value() == "hunter2"
    assert "hunter2" not in repr(config)


def test_broker_id_and_node_id_are_one_setting() -> None:
    assert (load("broker.id=3").node_id, load("broker.id=3").broker_id) == (3, 3)
    config = load("node.id=4")
    assert (config.broker_id, config.raw_value("broker.id")) == (4, "4")
