"""`config.describe`: DescribeConfigs entries, their sources, and synonyms in Kafka's order."""

from __future__ import annotations

from brook_broker.config.broker import BrokerConfig, load_broker_config
from brook_broker.config.configdef import ConfigType
from brook_broker.config.describe import (
    ConfigEntry,
    describe_broker_configs,
    describe_cluster_default_configs,
    describe_topic_configs,
)
from brook_broker.config.layers import BrokerLayers, ConfigSource
from brook_broker.config.topic import TopicConfigs
from brook_broker.config.topic_definitions import TOPIC_CONFIG_NAMES

TOPIC = ConfigSource.DYNAMIC_TOPIC_CONFIG
DYNAMIC_BROKER = ConfigSource.DYNAMIC_BROKER_CONFIG
DYNAMIC_DEFAULT = ConfigSource.DYNAMIC_DEFAULT_BROKER_CONFIG
STATIC = ConfigSource.STATIC_BROKER_CONFIG
DEFAULT = ConfigSource.DEFAULT_CONFIG


def broker(*overrides: str) -> BrokerConfig:
    return load_broker_config(path=None, overrides=list(overrides), env={})[0]


def by_name(entries: list[ConfigEntry]) -> dict[str, ConfigEntry]:
    return {entry.name: entry for entry in entries}


def synonyms(entry: ConfigEntry) -> list[tuple[str, str | None, ConfigSource]]:
    return [(s.name, s.value, s.source) for s in entry.synonyms]


def test_topic_with_an_override() -> None:
    entries = by_name(
        TopicConfigs(broker("log.segment.bytes=2097152")).describe({"segment.bytes": "1048576"})
    )
    assert list(entries) == list(TOPIC_CONFIG_NAMES)
    entry = entries["segment.bytes"]
    assert (entry.value, entry.source, entry.is_default, entry.read_only) == ("1048576", TOPIC, False, False)
    # Topic override first, then the broker synonym in each layer that sets it.
    assert synonyms(entry) == [
        ("segment.bytes", "1048576", TOPIC),
        ("log.segment.bytes", "2097152", STATIC),
        ("log.segment.bytes", "1073741824", DEFAULT),
    ]
    assert entry.config_type is ConfigType.INT
    assert entry.config_type_id == 3
    assert entry.documentation


def test_topic_default() -> None:
    entry = by_name(TopicConfigs(broker()).describe({}))["cleanup.policy"]
    assert (entry.value, entry.source, entry.is_default) == ("delete", DEFAULT, True)
    assert synonyms(entry) == [("log.cleanup.policy", "delete", DEFAULT)]


def test_topic_default_from_a_static_broker_config() -> None:
    entry = by_name(TopicConfigs(broker("message.max.bytes=2000")).describe({}))["max.message.bytes"]
    assert (entry.value, entry.source) == ("2000", STATIC)
    assert synonyms(entry) == [
        ("message.max.bytes", "2000", STATIC),
        ("message.max.bytes", "1048588", DEFAULT),
    ]


def test_retention_synonyms_follow_kafka_including_its_quirk() -> None:
    # Only log.retention.hours is set: Kafka drops synonyms up to log.retention.ms, i.e. all of them.
    entry = by_name(TopicConfigs(broker("log.retention.hours=24")).describe({}))["retention.ms"]
    assert (entry.value, entry.source, synonyms(entry)) == ("86400000", DEFAULT, [])
    with_override = by_name(TopicConfigs(broker()).describe({"retention.ms": "1000"}))["retention.ms"]
    assert (with_override.value, with_override.source) == ("1000", TOPIC)
    assert synonyms(with_override) == [("retention.ms", "1000", TOPIC)]


def test_synonyms_in_layer_order() -> None:
    layers = BrokerLayers(
        broker("log.retention.ms=5000", "log.retention.hours=2"),
        dynamic_broker={"log.retention.ms": "7000"},
        dynamic_default={"log.retention.ms": "6000"},
    )
    entry = by_name(describe_topic_configs(overrides={"retention.ms": "1000"}, layers=layers))["retention.ms"]
    assert synonyms(entry) == [
        ("retention.ms", "1000", TOPIC),
        ("log.retention.ms", "7000", DYNAMIC_BROKER),
        ("log.retention.ms", "6000", DYNAMIC_DEFAULT),
        ("log.retention.ms", "5000", STATIC),
        ("log.retention.hours", "2", STATIC),
        ("log.retention.hours", "168", DEFAULT),
    ]
    without = by_name(describe_topic_configs(overrides={}, layers=layers))["retention.ms"]
    assert (without.value, without.source) == ("7000", DYNAMIC_BROKER)


def test_topic_filter_and_flags() -> None:
    entries = describe_topic_configs(
        overrides={},
        layers=BrokerLayers(broker()),
        names={"segment.ms", "flush.ms"},
        include_synonyms=False,
        include_documentation=False,
    )
    assert [(e.name, e.value, e.synonyms, e.documentation) for e in entries] == [
        ("flush.ms", "9223372036854775807", (), None),
        ("segment.ms", "604800000", (), None),
    ]


def test_broker_static_and_default_entries() -> None:
    entries = by_name(
        describe_broker_configs(
            layers=BrokerLayers(broker("log.retention.hours=24", "num.partitions=3", "foo=bar"))
        )
    )
    hours = entries["log.retention.hours"]
    assert (hours.value, hours.source, hours.read_only) == ("24", STATIC, True)
    assert synonyms(hours) == [("log.retention.hours", "24", STATIC), ("log.retention.hours", "168", DEFAULT)]
    millis = entries["log.retention.ms"]
    assert (millis.value, millis.source, millis.read_only, synonyms(millis)) == (None, DEFAULT, False, [])
    assert (entries["num.partitions"].value, entries["num.partitions"].source) == ("3", STATIC)
    listeners = entries["listeners"]
    assert (listeners.value, listeners.source, listeners.read_only) == (
        "PLAINTEXT://127.0.0.1:9092",
        DEFAULT,
        False,
    )
    assert entries["num.io.threads"].documentation.endswith("Brook does not act on it.")  # type: ignore[union-attr]
    unknown = entries["foo"]
    assert (unknown.value, unknown.source, unknown.is_sensitive, unknown.config_type) == (
        None,
        STATIC,
        True,
        None,
    )


def test_broker_passwords_are_hidden() -> None:
    entry = by_name(describe_broker_configs(layers=BrokerLayers(broker("ssl.key.password=secret"))))[
        "ssl.key.password"
    ]
    assert (entry.value, entry.is_sensitive, entry.source) == (None, True, STATIC)
    assert synonyms(entry) == [("ssl.key.password", None, STATIC)]
    assert entry.config_type is ConfigType.PASSWORD


def test_broker_dynamic_values_win() -> None:
    layers = BrokerLayers(
        broker("log.segment.bytes=2097152"), dynamic_broker={"log.segment.bytes": "4194304"}
    )
    entry = by_name(describe_broker_configs(layers=layers, names={"log.segment.bytes"}))["log.segment.bytes"]
    assert (entry.value, entry.source) == ("4194304", DYNAMIC_BROKER)
    assert [s.source for s in entry.synonyms] == [DYNAMIC_BROKER, STATIC, DEFAULT]


def test_cluster_default_resource_lists_only_dynamic_defaults() -> None:
    layers = BrokerLayers(broker("log.segment.bytes=2097152"), dynamic_default={"log.retention.ms": "1000"})
    entries = describe_cluster_default_configs(layers=layers)
    assert [(e.name, e.value, e.source, synonyms(e)) for e in entries] == [
        ("log.retention.ms", "1000", DYNAMIC_DEFAULT, [("log.retention.ms", "1000", DYNAMIC_DEFAULT)])
    ]


def test_no_default_synonym_where_only_brook_has_a_default() -> None:
    entries = by_name(describe_broker_configs(layers=BrokerLayers(broker("node.id=3")), names={"node.id"}))
    assert synonyms(entries["node.id"]) == [("node.id", "3", STATIC)]
    unset = by_name(
        describe_broker_configs(layers=BrokerLayers(broker()), names={"node.id", "process.roles"})
    )
    assert [(e.value, e.source, e.synonyms) for e in unset.values()] == [
        ("1", DEFAULT, ()),
        ("", DEFAULT, ()),
    ]


def test_internal_configs_are_not_described() -> None:
    names = {e.name for e in describe_broker_configs(layers=BrokerLayers(broker()))}
    assert "producer.id.expiration.check.interval.ms" not in names
    assert "producer.id.expiration.ms" in names
