"""Topic configuration: validating overrides, the effective `LogConfig`, and config alters.

`apis/` (CreateTopics, AlterConfigs, IncrementalAlterConfigs, DescribeConfigs) and the
controller in `metadata/` call `TopicConfigs`, bound to the broker's `BrokerLayers`;
`log/` only ever sees the `LogConfig` built here. Overrides are stored as the
normalised strings `validate_overrides` returns, the way Kafka stores ConfigRecords.

The checks and their messages are Kafka 4.x's ``LogConfig.validate``: unknown names first
(``Unknown topic config name: foo``), then each value against its definition, then the
rules across configs (compaction lags, tiered storage). Brook adds one rule: an empty
``cleanup.policy`` (Kafka's "never clean") is refused, because `LogConfig` has no way to
say it; ``retention.ms=-1`` keeps data forever instead.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Collection, Mapping, Sequence
from typing import Any

from brook_broker.config.broker import BrokerConfig
from brook_broker.config.configdef import ConfigError, ConfigKey, ConfigType, ConfigValue, to_kafka_string
from brook_broker.config.describe import ConfigEntry, describe_topic_configs
from brook_broker.config.layers import BrokerLayers
from brook_broker.config.log_config import LogConfig
from brook_broker.config.topic_definitions import TOPIC_CONFIGS

__all__ = [
    "INVALID_REQUEST",
    "AlterConfigOp",
    "AlterOp",
    "ConfigError",
    "TopicConfigs",
    "incremental_alter",
    "log_config",
    "validate_overrides",
]

#: Kafka's INVALID_REQUEST error code, for malformed alter requests (duplicate keys).
INVALID_REQUEST = 42
_LOG_CONFIG_FIELDS = tuple(field.name for field in dataclasses.fields(LogConfig))


class AlterOp(enum.IntEnum):
    """IncrementalAlterConfigs' ``ConfigOperation``, with Kafka's wire ids."""

    SET = 0
    DELETE = 1
    APPEND = 2
    SUBTRACT = 3


@dataclasses.dataclass(frozen=True, slots=True)
class AlterConfigOp:
    """One entry of an IncrementalAlterConfigs resource: a name, an operation and its value."""

    name: str
    op: AlterOp
    value: str | None = None


def validate_overrides(
    overrides: Mapping[str, str | None],
    *,
    broker: BrokerConfig | BrokerLayers | None = None,
) -> dict[str, str]:
    """Check a topic's overrides; return them normalised (``" 100 "`` -> ``"100"``).

    `broker` supplies the defaults the cross-config rules compare with (without one, the
    definitions' own defaults). Raises `ConfigError` (INVALID_CONFIG) with Kafka's
    message for the first problem.
    """
    missing = [name for name, value in overrides.items() if value is None]
    if missing:
        raise ConfigError(f"Null value not supported for topic configs: {','.join(missing)}")
    for name in overrides:
        if name not in TOPIC_CONFIGS:
            raise ConfigError(f"Unknown topic config name: {name}")
    parsed = {
        name: key.parse(str(overrides[name])) for name, key in TOPIC_CONFIGS.items() if name in overrides
    }
    defaults = _layers(broker).topic_default if broker is not None else _definition_default
    effective = {name: parsed[name] if name in parsed else defaults(name) for name in TOPIC_CONFIGS}
    _check_across(parsed, effective)
    return {name: _normalise(TOPIC_CONFIGS[name], parsed[name]) for name in overrides}


def log_config(broker: BrokerConfig | BrokerLayers, overrides: Mapping[str, str]) -> LogConfig:
    """The effective `LogConfig`: a topic's overrides (already validated) over the broker's defaults."""
    parsed = {name: TOPIC_CONFIGS[name].parse(value) for name, value in overrides.items()}
    effective = _effective_values(parsed, layers=_layers(broker))
    fields: dict[str, Any] = {field: effective[field.replace("_", ".")] for field in _LOG_CONFIG_FIELDS}
    fields["cleanup_policy"] = _cleanup_policy(effective["cleanup.policy"])
    return LogConfig(**fields)


def incremental_alter(
    current: Mapping[str, str],
    ops: Sequence[AlterConfigOp],
    *,
    definitions: Mapping[str, ConfigKey] = TOPIC_CONFIGS,
) -> dict[str, str]:
    """Apply IncrementalAlterConfigs operations to a resource's overrides (no value checks).

    Kafka's semantics (``ConfigurationControlManager``): SET replaces, DELETE removes (back
    to the default), APPEND adds list elements not yet present and SUBTRACT removes the
    first occurrence of each; both start from the override, or from the definition's
    default when there is none. A key may appear once per request, and only DELETE may
    come without a value (both INVALID_REQUEST otherwise, as in Kafka).
    """
    names = [op.name for op in ops]
    if len(set(names)) != len(names):
        raise ConfigError("Error due to duplicate config keys", error_code=INVALID_REQUEST)
    # Kafka's broker turns these away before the controller sees them (ConfigAdminManager),
    # hence INVALID_REQUEST and its odd wording.
    missing = [op.name for op in ops if op.op is not AlterOp.DELETE and op.value is None]
    if missing:
        raise ConfigError(f"Null value not supported for : {', '.join(missing)}", error_code=INVALID_REQUEST)
    result = dict(current)
    for op in ops:
        if op.op is AlterOp.SET:
            result[op.name] = op.value or ""
        elif op.op is AlterOp.DELETE:
            result.pop(op.name, None)
        else:
            key = definitions.get(op.name)
            if key is None or key.type is not ConfigType.LIST:
                raise ConfigError(f"Can't {op.op.name} to key {op.name} because its type is not LIST.")
            elements = _list_parts(result.get(op.name, key.default_string))
            for element in _java_split(op.value or ""):
                if op.op is AlterOp.APPEND and element not in elements:
                    elements.append(element)
                elif op.op is AlterOp.SUBTRACT and element in elements:
                    elements.remove(element)
            result[op.name] = ",".join(elements)
    return result


class TopicConfigs:
    """Topic configuration against one broker's layers: what the API handlers call."""

    def __init__(self, broker: BrokerConfig | BrokerLayers) -> None:
        self.layers = _layers(broker)

    def validate(self, overrides: Mapping[str, str | None]) -> dict[str, str]:
        """CreateTopics / AlterConfigs: check overrides, return them normalised."""
        return validate_overrides(overrides, broker=self.layers)

    def log_config(self, overrides: Mapping[str, str]) -> LogConfig:
        return log_config(self.layers, overrides)

    def alter(self, current: Mapping[str, str], ops: Sequence[AlterConfigOp]) -> dict[str, str]:
        """IncrementalAlterConfigs: apply `ops` to `current`, then validate the result."""
        return self.validate(incremental_alter(current, ops))

    def describe(
        self,
        overrides: Mapping[str, str],
        *,
        names: Collection[str] | None = None,
        include_synonyms: bool = True,
        include_documentation: bool = True,
    ) -> list[ConfigEntry]:
        return describe_topic_configs(
            overrides=overrides,
            layers=self.layers,
            names=names,
            include_synonyms=include_synonyms,
            include_documentation=include_documentation,
        )

    def default_partitions(self, requested: int) -> int:
        """CreateTopics' partition count: -1 takes ``num.partitions``; otherwise it must be positive."""
        if requested == -1:
            return self.layers.broker.num_partitions
        if requested <= 0:
            raise ConfigError(
                "Number of partitions was set to an invalid non-positive value.",
                error_code=_INVALID_PARTITIONS,
            )
        return requested

    def default_replication_factor(self, requested: int) -> int:
        """CreateTopics' replication factor: -1 takes ``default.replication.factor``."""
        if requested == -1:
            return self.layers.broker.default_replication_factor
        if requested <= 0:
            raise ConfigError(
                "Replication factor must be larger than 0, or -1 to use the default value.",
                error_code=_INVALID_REPLICATION_FACTOR,
            )
        return requested


_INVALID_PARTITIONS = 37
_INVALID_REPLICATION_FACTOR = 38


def _layers(broker: BrokerConfig | BrokerLayers) -> BrokerLayers:
    return broker if isinstance(broker, BrokerLayers) else BrokerLayers(broker)


def _definition_default(name: str) -> ConfigValue:
    return TOPIC_CONFIGS[name].default


def _effective_values(parsed: Mapping[str, ConfigValue], *, layers: BrokerLayers) -> dict[str, ConfigValue]:
    return {name: parsed[name] if name in parsed else layers.topic_default(name) for name in TOPIC_CONFIGS}


def _check_across(parsed: Mapping[str, ConfigValue], effective: Mapping[str, ConfigValue]) -> None:
    if parsed.get("cleanup.policy") == []:
        raise ConfigError(
            "Invalid value  for configuration cleanup.policy: Brook needs at least one of compact, delete "
            "(set retention.ms=-1 to keep data forever)"
        )
    low, high = effective["min.compaction.lag.ms"], effective["max.compaction.lag.ms"]
    assert isinstance(low, int) and isinstance(high, int)
    if low > high:
        raise ConfigError(
            f"conflict topic config setting min.compaction.lag.ms ({low}) > max.compaction.lag.ms ({high})"
        )
    if effective["remote.storage.enable"] is True:
        raise ConfigError(
            "Tiered Storage functionality is disabled in the broker. "
            "Topic cannot be configured with remote log storage."
        )


def _normalise(key: ConfigKey, value: ConfigValue) -> str:
    text = to_kafka_string(value, key.type)
    return "" if text is None else text


def _cleanup_policy(value: ConfigValue) -> Any:
    policies = set(value) if isinstance(value, list) else set()
    # LogConfig spells the combination one way, whatever order the user wrote.
    return ",".join(sorted(policies)) if policies else "delete"


def _list_parts(value: str | None) -> list[str]:
    """Kafka's ``getParts``: split on commas, dropping empty parts."""
    return [part for part in (value or "").split(",") if part]


def _java_split(value: str) -> list[str]:
    """``String.split(",")``: trailing empty strings dropped, but ``""`` gives ``[""]``."""
    parts = value.split(",")
    while len(parts) > 1 and parts[-1] == "":
        parts.pop()
    return parts
