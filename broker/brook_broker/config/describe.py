"""DescribeConfigs for TOPIC and BROKER resources, as plain data in Kafka's shape.

`apis/` calls `describe_topic_configs` / `describe_broker_configs` (or
`TopicConfigs.describe`) and maps each `ConfigEntry` onto whichever DescribeConfigs
version the client speaks: v0 has only `is_default`, v1+ adds the source and synonyms,
v3+ the type and documentation.

The algorithm is Kafka's ``ConfigHelper``: an entry's synonyms are the topic override (if
any), then, for each layer in turn (dynamic per-broker, dynamic cluster default, static,
default), every broker synonym that layer sets; the entry's source is the first synonym's.
Kafka then drops leading synonyms until it meets the entry's own name, which is meant for
listener-prefixed configs but also means ``retention.ms`` lists no synonyms when only
``log.retention.hours`` is set (``synonyms={}`` in ``kafka-configs --describe --all``).
Brook keeps that quirk so its answers compare equal to Kafka's.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Mapping

from brook_broker.config.broker_definitions import BROKER_CONFIGS
from brook_broker.config.configdef import ConfigKey, ConfigType, to_kafka_string
from brook_broker.config.layers import BrokerLayers, ConfigSource
from brook_broker.config.topic_definitions import TOPIC_CONFIG_NAMES, TOPIC_CONFIGS

__all__ = [
    "ConfigEntry",
    "ConfigSynonym",
    "broker_config_synonyms",
    "describe_broker_configs",
    "describe_cluster_default_configs",
    "describe_topic_configs",
]

# Broker configs that are one setting in several units (Kafka's brokerConfigSynonyms).
_SYNONYM_GROUPS = (
    ("log.roll.ms", "log.roll.hours"),
    ("log.roll.jitter.ms", "log.roll.jitter.hours"),
    ("log.retention.ms", "log.retention.minutes", "log.retention.hours"),
)


@dataclasses.dataclass(frozen=True, slots=True)
class ConfigSynonym:
    """A config that could supply an entry's value, with the value it holds there."""

    name: str
    value: str | None
    source: ConfigSource


@dataclasses.dataclass(frozen=True, slots=True)
class ConfigEntry:
    """One DescribeConfigs result entry. `config_type` None is the wire's UNKNOWN (0)."""

    name: str
    value: str | None
    source: ConfigSource
    read_only: bool
    is_sensitive: bool
    synonyms: tuple[ConfigSynonym, ...]
    config_type: ConfigType | None
    documentation: str | None

    @property
    def is_default(self) -> bool:
        """DescribeConfigs v0's ``is_default``."""
        return self.source is ConfigSource.DEFAULT_CONFIG

    @property
    def config_type_id(self) -> int:
        return 0 if self.config_type is None else self.config_type.value


def broker_config_synonyms(name: str) -> list[str]:
    """The broker configs that set the same thing as `name`, highest priority first."""
    if name == "log.flush.interval.ms":
        # Only this direction: the scheduler interval is the fallback of the flush interval.
        return ["log.flush.interval.ms", "log.flush.scheduler.interval.ms"]
    for group in _SYNONYM_GROUPS:
        if name in group:
            return list(group)
    return [name]


def describe_topic_configs(
    *,
    overrides: Mapping[str, str],
    layers: BrokerLayers,
    names: Collection[str] | None = None,
    include_synonyms: bool = True,
    include_documentation: bool = True,
) -> list[ConfigEntry]:
    """Every topic config (or those in `names`) of a topic with these (validated) overrides."""
    entries = []
    for name in TOPIC_CONFIG_NAMES:
        if names and name not in names:
            continue
        key = TOPIC_CONFIGS[name]
        value = key.parse(overrides[name]) if name in overrides else layers.topic_default(name)
        text = _visible(key, to_kafka_string(value, key.type))
        synonyms: list[ConfigSynonym] = []
        if name in overrides:
            synonyms.append(ConfigSynonym(name, text, ConfigSource.DYNAMIC_TOPIC_CONFIG))
        if key.synonyms:
            first = key.synonyms[0].name
            synonyms.extend(_broker_synonyms(first, layers=layers, sensitive=key.type.sensitive))
        entries.append(
            _entry(
                key,
                value=text,
                synonyms=synonyms,
                read_only=False,
                include_synonyms=include_synonyms,
                include_documentation=include_documentation,
            )
        )
    return entries


def describe_broker_configs(
    *,
    layers: BrokerLayers,
    names: Collection[str] | None = None,
    include_synonyms: bool = True,
    include_documentation: bool = True,
) -> list[ConfigEntry]:
    """DescribeConfigs on this broker's own id: every broker config, plus unknown supplied names."""
    entries = []
    for name in sorted({*BROKER_CONFIGS, *layers.broker.unknown_configs}):
        if names and name not in names:
            continue
        key = BROKER_CONFIGS.get(name)
        if key is not None and key.internal:
            continue
        if key is None:
            # Kafka cannot know the type of a name it does not define, so it hides the value.
            synonyms = [ConfigSynonym(name, None, ConfigSource.STATIC_BROKER_CONFIG)]
            entries.append(_unknown_entry(name, synonyms=synonyms, include_synonyms=include_synonyms))
            continue
        value = _visible(key, to_kafka_string(layers.value(name), key.type))
        synonyms = _broker_synonyms(name, layers=layers, sensitive=key.type.sensitive)
        entries.append(
            _entry(
                key,
                value=value,
                synonyms=synonyms,
                read_only=not key.dynamic,
                include_synonyms=include_synonyms,
                include_documentation=include_documentation,
            )
        )
    return entries


def describe_cluster_default_configs(
    *,
    layers: BrokerLayers,
    names: Collection[str] | None = None,
    include_synonyms: bool = True,
    include_documentation: bool = True,
) -> list[ConfigEntry]:
    """DescribeConfigs on the BROKER resource with an empty name: the dynamic cluster defaults only."""
    entries = []
    for name in sorted(layers.dynamic_default):
        key = BROKER_CONFIGS.get(name)
        if key is None or (names and name not in names):
            continue
        synonyms = [
            s
            for s in _broker_synonyms(name, layers=layers, sensitive=key.type.sensitive)
            if s.source is ConfigSource.DYNAMIC_DEFAULT_BROKER_CONFIG
        ]
        value = _visible(key, to_kafka_string(key.parse(layers.dynamic_default[name]), key.type))
        entries.append(
            _entry(
                key,
                value=value,
                synonyms=synonyms,
                read_only=not key.dynamic,
                include_synonyms=include_synonyms,
                include_documentation=include_documentation,
            )
        )
    return entries


def _broker_synonyms(name: str, *, layers: BrokerLayers, sensitive: bool) -> list[ConfigSynonym]:
    """Kafka's ``configSynonyms``: layer by layer, each synonym the layer sets, then the quirk."""
    by_layer: dict[ConfigSource, list[ConfigSynonym]] = {}
    for synonym in broker_config_synonyms(name):
        for source, raw in layers.raw_layers(synonym):
            by_layer.setdefault(source, []).append(ConfigSynonym(synonym, None if sensitive else raw, source))
    ordered = [s for source in sorted(by_layer) for s in by_layer[source]]
    # dropWhile(_.name != name): see the module docstring.
    while ordered and ordered[0].name != name:
        ordered.pop(0)
    return ordered


def _entry(
    key: ConfigKey,
    *,
    value: str | None,
    synonyms: list[ConfigSynonym],
    read_only: bool,
    include_synonyms: bool,
    include_documentation: bool,
) -> ConfigEntry:
    return ConfigEntry(
        name=key.name,
        value=value,
        source=synonyms[0].source if synonyms else ConfigSource.DEFAULT_CONFIG,
        read_only=read_only,
        is_sensitive=key.type.sensitive,
        synonyms=tuple(synonyms) if include_synonyms else (),
        config_type=key.type,
        documentation=key.doc if include_documentation else None,
    )


def _unknown_entry(name: str, *, synonyms: list[ConfigSynonym], include_synonyms: bool) -> ConfigEntry:
    return ConfigEntry(
        name=name,
        value=None,
        source=ConfigSource.STATIC_BROKER_CONFIG,
        read_only=True,
        is_sensitive=True,
        synonyms=tuple(synonyms) if include_synonyms else (),
        config_type=None,
        documentation=None,
    )


def _visible(key: ConfigKey, text: str | None) -> str | None:
    return None if key.type.sensitive else text
