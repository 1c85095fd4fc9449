"""A broker's configuration in Kafka's four layers, and the topic defaults they produce.

Kafka resolves a broker config from, highest first: a dynamic per-broker value, a dynamic
cluster-wide default (both set with IncrementalAlterConfigs and kept in the metadata
log), the static value the broker started with (file, env, ``--override``), and the
definition's default. `config.topic` builds LogConfigs and `config.describe` answers
DescribeConfigs from a `BrokerLayers`; whoever owns dynamic configs (metadata/) passes
them in as plain name-to-string maps, so this package stays free of I/O.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from brook_broker.config.broker_definitions import BROKER_CONFIGS
from brook_broker.config.configdef import ConfigValue
from brook_broker.config.topic_definitions import TOPIC_CONFIGS

if TYPE_CHECKING:
    from brook_broker.config.broker import BrokerConfig

__all__ = ["BrokerLayers", "ConfigSource", "topic_default"]


class ConfigSource(enum.IntEnum):
    """DescribeConfigs' ``ConfigSource`` (Kafka's ``DescribeConfigsResponse.ConfigSource`` ids)."""

    UNKNOWN = 0
    DYNAMIC_TOPIC_CONFIG = 1
    DYNAMIC_BROKER_CONFIG = 2
    DYNAMIC_DEFAULT_BROKER_CONFIG = 3
    STATIC_BROKER_CONFIG = 4
    DEFAULT_CONFIG = 5
    DYNAMIC_BROKER_LOGGER_CONFIG = 6
    CLIENT_METRICS_CONFIG = 7
    GROUP_CONFIG = 8


@dataclasses.dataclass(frozen=True, slots=True)
class BrokerLayers:
    """The static `broker` config plus dynamic per-broker and cluster-default values (raw strings).

    Dynamic values are assumed valid: whoever accepted them validated them.
    """

    broker: BrokerConfig
    _: dataclasses.KW_ONLY
    dynamic_broker: Mapping[str, str] = dataclasses.field(default_factory=dict)
    dynamic_default: Mapping[str, str] = dataclasses.field(default_factory=dict)

    def raw_layers(self, name: str) -> list[tuple[ConfigSource, str | None]]:
        """Every layer that sets `name`, highest priority first, with the raw value it holds.

        The DEFAULT layer counts only when the definition has a default (Kafka's
        ``staticDefaultConfigs`` leaves out configs whose default is null) that Kafka has too.
        """
        found: list[tuple[ConfigSource, str | None]] = []
        if name in self.dynamic_broker:
            found.append((ConfigSource.DYNAMIC_BROKER_CONFIG, self.dynamic_broker[name]))
        if name in self.dynamic_default:
            found.append((ConfigSource.DYNAMIC_DEFAULT_BROKER_CONFIG, self.dynamic_default[name]))
        static = self.broker.raw_value(name)
        if static is not None:
            found.append((ConfigSource.STATIC_BROKER_CONFIG, static))
        key = BROKER_CONFIGS.get(name)
        if key is not None and key.default is not None and key.kafka_default:
            found.append((ConfigSource.DEFAULT_CONFIG, key.default_string))
        return found

    def value(self, name: str) -> ConfigValue:
        """The effective typed value of a known broker config."""
        for dynamic in (self.dynamic_broker, self.dynamic_default):
            if name in dynamic:
                return BROKER_CONFIGS[name].parse(dynamic[name])
        return self.broker.value(name)

    def topic_default(self, topic_name: str) -> ConfigValue:
        """What a topic that does not set `topic_name` gets (Kafka's ``extractLogConfigMap``)."""
        return topic_default(topic_name, self.value)


def topic_default(topic_name: str, broker_value: Callable[[str], ConfigValue]) -> ConfigValue:
    """The first broker synonym that is set, converted to the topic config's unit.

    ``retention.ms`` takes ``log.retention.ms``, else ``log.retention.minutes`` x 60000,
    else ``log.retention.hours`` x 3600000 (which always has a default); any negative
    result means "forever" and becomes -1, as in Kafka's ``logRetentionTimeMillis``.
    """
    key = TOPIC_CONFIGS[topic_name]
    for synonym in key.synonyms:
        value = broker_value(synonym.name)
        if value is not None:
            converted = synonym.convert(value)
            if topic_name == "retention.ms" and isinstance(converted, int) and converted < 0:
                return -1
            return converted
    return key.default
