"""The definition tables and the ConfigDef machinery: types, messages, and table consistency."""

from __future__ import annotations

import pytest

from brook_broker.config.broker import BrokerConfig
from brook_broker.config.broker_definitions import BROKER_CONFIGS, env_name, resolve_env_name
from brook_broker.config.configdef import ConfigError, ConfigType, java_repr, parse_value, to_kafka_string
from brook_broker.config.topic_definitions import TOPIC_CONFIG_NAMES, TOPIC_CONFIGS

# Apache Kafka 4.3.1's `kafka-configs --describe --all` list for a topic.
KAFKA_TOPIC_CONFIGS = [
    "cleanup.policy",
    "compression.gzip.level",
    "compression.lz4.level",
    "compression.type",
    "compression.zstd.level",
    "delete.retention.ms",
    "file.delete.delay.ms",
    "flush.messages",
    "flush.ms",
    "follower.replication.throttled.replicas",
    "index.interval.bytes",
    "leader.replication.throttled.replicas",
    "local.retention.bytes",
    "local.retention.ms",
    "max.compaction.lag.ms",
    "max.message.bytes",
    "message.timestamp.after.max.ms",
    "message.timestamp.before.max.ms",
    "message.timestamp.type",
    "min.cleanable.dirty.ratio",
    "min.compaction.lag.ms",
    "min.insync.replicas",
    "preallocate",
    "remote.log.copy.disable",
    "remote.log.delete.on.disable",
    "remote.storage.enable",
    "retention.bytes",
    "retention.ms",
    "segment.bytes",
    "segment.index.bytes",
    "segment.jitter.ms",
    "segment.ms",
    "unclean.leader.election.enable",
]


def test_topic_configs_are_kafkas() -> None:
    assert list(TOPIC_CONFIG_NAMES) == sorted(KAFKA_TOPIC_CONFIGS)


@pytest.mark.parametrize(
    ("name", "default", "valid_values"),
    [
        ("segment.bytes", "1073741824", "[1048576,...]"),
        ("retention.ms", "604800000", "[-1,...]"),
        ("cleanup.policy", "delete", "[compact, delete]"),
        ("compression.gzip.level", "-1", "[1,...,9] or -1"),
        ("compression.zstd.level", "3", "[-131072,...,22]"),
        ("min.cleanable.dirty.ratio", "0.5", "[0,...,1]"),
        ("message.timestamp.after.max.ms", "3600000", "[0,...]"),
        ("max.message.bytes", "1048588", "[0,...]"),
    ],
)
def test_topic_defaults_and_valid_values(name: str, default: str, valid_values: str) -> None:
    key = TOPIC_CONFIGS[name]
    assert key.default_string == default
    assert str(key.validator) == valid_values


def test_every_synonym_is_a_broker_config_of_the_same_kind() -> None:
    for key in TOPIC_CONFIGS.values():
        for synonym in key.synonyms:
            assert synonym.name in BROKER_CONFIGS, synonym.name
        if key.synonyms and key.synonyms[0].unit.name == "SAME":
            assert BROKER_CONFIGS[key.synonyms[0].name].type is key.type, key.name


def test_defaults_pass_their_own_validators() -> None:
    for key in [*TOPIC_CONFIGS.values(), *BROKER_CONFIGS.values()]:
        key.validate(key.default)
        if key.default is not None:
            assert key.parse(key.default_string or "") == key.default, key.name


def test_model_fields_are_the_broker_table() -> None:
    aliases = {field.alias or name for name, field in BrokerConfig.model_fields.items()}
    assert aliases == set(BROKER_CONFIGS)


def test_env_names_are_unique_and_resolve_back() -> None:
    for name in BROKER_CONFIGS:
        assert resolve_env_name(env_name(name)) == name
    assert env_name("log.dirs") == "BROOK_LOG_DIRS"
    assert resolve_env_name("BROOK_NOT_A_CONFIG") is None


@pytest.mark.parametrize(
    ("raw", "config_type", "expected"),
    [
        (" 42 ", ConfigType.INT, 42),
        ("+3", ConfigType.INT, 3),
        ("-2147483648", ConfigType.INT, -(2**31)),
        ("32767", ConfigType.SHORT, 32767),
        ("9223372036854775807", ConfigType.LONG, 2**63 - 1),
        ("TRUE", ConfigType.BOOLEAN, True),
        (" false ", ConfigType.BOOLEAN, False),
        ("1e3", ConfigType.DOUBLE, 1000.0),
        ("1.0d", ConfigType.DOUBLE, 1.0),
        (".5", ConfigType.DOUBLE, 0.5),
        ("a, b ,c", ConfigType.LIST, ["a", "b", "c"]),
        ("a,,b,", ConfigType.LIST, ["a", "", "b", ""]),
        ("   ", ConfigType.LIST, []),
        ("  text  ", ConfigType.STRING, "text"),
    ],
)
def test_parse_value(raw: str, config_type: ConfigType, expected: object) -> None:
    assert parse_value("x", raw, config_type=config_type) == expected


@pytest.mark.parametrize(
    ("raw", "config_type", "message"),
    [
        ("abc", ConfigType.INT, "Invalid value abc for configuration x: Not a number of type INT"),
        ("1_000", ConfigType.INT, "Invalid value 1_000 for configuration x: Not a number of type INT"),
        (
            "2147483648",
            ConfigType.INT,
            "Invalid value 2147483648 for configuration x: Not a number of type INT",
        ),
        ("70000", ConfigType.SHORT, "Invalid value 70000 for configuration x: Not a number of type SHORT"),
        ("1.5", ConfigType.LONG, "Invalid value 1.5 for configuration x: Not a number of type LONG"),
        ("0x10", ConfigType.DOUBLE, "Invalid value 0x10 for configuration x: Not a number of type DOUBLE"),
        (
            "yes",
            ConfigType.BOOLEAN,
            "Invalid value yes for configuration x: Expected value to be either true or false",
        ),
    ],
)
def test_parse_errors_are_kafkas(raw: str, config_type: ConfigType, message: str) -> None:
    with pytest.raises(ConfigError) as error:
        parse_value("x", raw, config_type=config_type)
    assert str(error.value) == message


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (0.5, "0.5"),
        (100.0, "100.0"),
        (1e7, "1.0E7"),
        (1.7976931348623157e308, "1.7976931348623157E308"),
        (0.0001, "1.0E-4"),
        (-2.5e-5, "-2.5E-5"),
        (True, "true"),
        (["a", "b"], "[a, b]"),
    ],
)
def test_java_repr(value: object, expected: str) -> None:
    assert java_repr(value) == expected


def test_to_kafka_string() -> None:
    assert to_kafka_string(["compact", "delete"], ConfigType.LIST) == "compact,delete"
    assert to_kafka_string("secret", ConfigType.PASSWORD) == "[hidden]"
    assert to_kafka_string(None, ConfigType.LONG) is None
