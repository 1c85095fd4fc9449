"""Config definitions the way Kafka's ``ConfigDef`` states them: type, default, validator, docs.

The tables in `config.broker_definitions` and `config.topic_definitions` are built from
`ConfigKey`; `config.broker`, `config.topic` and `config.describe` parse, check and print
values through `parse_value`, `ConfigKey.validate` and `to_kafka_string` only, so every
error a user sees reads like Kafka's (``Invalid value abc for configuration num.partitions:
Not a number of type INT``). The value in that message is printed as Kafka prints it,
without quotes, so CreateTopics/AlterConfigs error messages match Kafka's byte for byte.
"""

from __future__ import annotations

import dataclasses
import decimal
import enum
import math
import re
from collections.abc import Callable
from typing import TypeAlias

__all__ = [
    "INVALID_CONFIG",
    "ConfigError",
    "ConfigKey",
    "ConfigType",
    "ConfigValue",
    "Custom",
    "Importance",
    "OneOf",
    "Range",
    "Synonym",
    "Unit",
    "ValidList",
    "Validator",
    "java_repr",
    "parse_value",
    "to_kafka_string",
]

#: Kafka's INVALID_CONFIG error code: what an API handler puts on the wire for a `ConfigError`.
INVALID_CONFIG = 40

#: A parsed value: bool, int (INT/SHORT/LONG), float, str (STRING/CLASS/PASSWORD), list, or unset.
ConfigValue: TypeAlias = bool | int | float | str | list[str] | None

_INT_RE = re.compile(r"[+-]?[0-9]+")
# Java's Double.parseDouble, minus hexadecimal floats: digits, optional exponent, optional d/f.
_DOUBLE_RE = re.compile(r"[+-]?(NaN|Infinity|(([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?)[fFdD]?)")
_LIST_SPLIT_RE = re.compile(r"\s*,\s*")
_BOUNDS = {"INT": 31, "SHORT": 15, "LONG": 63}


class ConfigError(ValueError):
    """A configuration the broker refuses; ``str()`` is one line meant for the user.

    `error_code` is the Kafka error to answer with when the value came over the wire.
    """

    def __init__(self, message: str, *, error_code: int = INVALID_CONFIG) -> None:
        super().__init__(message)
        self.error_code = error_code

    @classmethod
    def invalid(cls, name: str, value: object, *, reason: str | None = None) -> ConfigError:
        """Kafka's ``ConfigException(name, value, message)`` wording."""
        suffix = f": {reason}" if reason else ""
        return cls(f"Invalid value {java_repr(value)} for configuration {name}{suffix}")


class ConfigType(enum.Enum):
    """``ConfigDef.Type``; the numbers are DescribeConfigs' ``ConfigType`` ids (v3+)."""

    BOOLEAN = 1
    STRING = 2
    INT = 3
    SHORT = 4
    LONG = 5
    DOUBLE = 6
    LIST = 7
    CLASS = 8
    PASSWORD = 9

    @property
    def sensitive(self) -> bool:
        return self is ConfigType.PASSWORD


class Importance(enum.Enum):
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"


class Validator:
    """Checks a parsed value; `str()` is the "Valid Values" column of Kafka's docs."""

    def __call__(self, name: str, value: ConfigValue) -> None:
        raise NotImplementedError


@dataclasses.dataclass(frozen=True, slots=True)
class Range(Validator):
    """``ConfigDef.Range``: numeric bounds, either side optional. Unset values pass."""

    min: float | None = None
    max: float | None = None

    def __call__(self, name: str, value: ConfigValue) -> None:
        if value is None or isinstance(value, (str, list)):
            return
        if self.min is not None and value < self.min:
            raise ConfigError.invalid(name, value, reason=f"Value must be at least {_java_number(self.min)}")
        if self.max is not None and value > self.max:
            raise ConfigError.invalid(
                name, value, reason=f"Value must be no more than {_java_number(self.max)}"
            )

    def __str__(self) -> str:
        low = "" if self.min is None else f"{_java_number(self.min)},"
        high = "" if self.max is None else f",{_java_number(self.max)}"
        return f"[{low}...{high}]"


@dataclasses.dataclass(frozen=True, slots=True)
class OneOf(Validator):
    """``ConfigDef.ValidString.in``: exact, case-sensitive match. Unset values pass."""

    values: tuple[str, ...]

    def __call__(self, name: str, value: ConfigValue) -> None:
        if isinstance(value, str) and value not in self.values:
            raise ConfigError.invalid(name, value, reason=f"String must be one of: {', '.join(self.values)}")

    def __str__(self) -> str:
        return f"[{', '.join(self.values)}]"


@dataclasses.dataclass(frozen=True, slots=True)
class ValidList(Validator):
    """``ConfigDef.ValidList`` as of Kafka 4.x: no blank or repeated elements, optionally an allow-list.

    `values` None accepts any element (Kafka's ``anyNonDuplicateValues``). An empty list
    is refused unless `allow_empty`; an unset (null) value always passes.
    """

    values: tuple[str, ...] | None = None
    allow_empty: bool = False

    def __call__(self, name: str, value: ConfigValue) -> None:
        if not isinstance(value, list):
            return
        if not value and not self.allow_empty:
            valid = "any non-empty value" if self.values is None else str(self)
            raise ConfigError(f"Configuration '{name}' must not be empty. Valid values include: {valid}")
        if any(not element for element in value):
            raise ConfigError(f"Configuration '{name}' values must not be empty.")
        if len(set(value)) != len(value):
            raise ConfigError(f"Configuration '{name}' values must not be duplicated.")
        if self.values is not None:
            for element in value:
                OneOf(self.values)(name, element)

    def __str__(self) -> str:
        return "" if self.values is None else f"[{', '.join(self.values)}]"


@dataclasses.dataclass(frozen=True, slots=True)
class Custom(Validator):
    """A one-off rule (compression levels, replica lists); `check` raises `ConfigError`."""

    check: Callable[[str, ConfigValue], None]
    valid_values: str

    def __call__(self, name: str, value: ConfigValue) -> None:
        if value is not None:
            self.check(name, value)

    def __str__(self) -> str:
        return self.valid_values


class Unit(enum.Enum):
    """How a broker synonym's value turns into the topic config's unit."""

    SAME = 1
    MINUTES = 60_000
    HOURS = 3_600_000


@dataclasses.dataclass(frozen=True, slots=True)
class Synonym:
    """A broker config that supplies a topic config's default (``ConfigSynonym``)."""

    name: str
    unit: Unit = Unit.SAME

    def convert(self, value: ConfigValue) -> ConfigValue:
        if self.unit is Unit.SAME or not isinstance(value, int) or isinstance(value, bool):
            return value
        factor: int = self.unit.value
        return value * factor


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class ConfigKey:
    """One definition: Kafka's ``ConfigDef.ConfigKey`` plus what Brook needs to describe it.

    `default` is already parsed (``None``: no default, the config is unset unless given).
    `synonyms` (topic configs only) lists the broker configs that supply the default, in
    Kafka's priority order. `dynamic` (broker configs only) says whether Kafka lets
    IncrementalAlterConfigs change it without a restart. `honoured` is False for configs
    Brook accepts so that existing files keep working, but does not act on. `internal`
    configs are accepted but never described (Kafka's ``defineInternal``);
    `kafka_default` is False where Kafka has no default and only Brook supplies one, so
    DescribeConfigs lists no DEFAULT_CONFIG synonym for it, as Kafka does not.
    """

    name: str
    type: ConfigType
    default: ConfigValue
    importance: Importance
    documentation: str
    validator: Validator | None = None
    synonyms: tuple[Synonym, ...] = ()
    dynamic: bool = False
    honoured: bool = True
    internal: bool = False
    kafka_default: bool = True

    def parse(self, raw: str) -> ConfigValue:
        """Parse and validate a string value as Kafka would; raise `ConfigError` if invalid."""
        value = parse_value(self.name, raw, config_type=self.type)
        if isinstance(value, list):
            # Kafka 4.x drops repeated list elements while parsing (ValidList's own duplicate
            # check is only reachable when a validator is called directly).
            value = list(dict.fromkeys(value))
        self.validate(value)
        return value

    def validate(self, value: ConfigValue) -> None:
        if self.validator is not None:
            self.validator(self.name, value)

    @property
    def default_string(self) -> str | None:
        return to_kafka_string(self.default, self.type)

    @property
    def doc(self) -> str:
        """The documentation DescribeConfigs returns, with Brook's caveat where one applies."""
        if self.honoured:
            return self.documentation
        return f"{self.documentation} Accepted for compatibility; Brook does not act on it."


def parse_value(name: str, raw: str, *, config_type: ConfigType) -> ConfigValue:
    """``ConfigDef.parseType`` for string input: trim, then convert, with Kafka's messages."""
    trimmed = raw.strip()
    match config_type:
        case ConfigType.BOOLEAN:
            if trimmed.lower() in ("true", "false"):
                return trimmed.lower() == "true"
            raise ConfigError.invalid(name, raw, reason="Expected value to be either true or false")
        case ConfigType.STRING | ConfigType.CLASS | ConfigType.PASSWORD:
            return trimmed
        case ConfigType.INT | ConfigType.SHORT | ConfigType.LONG:
            bits = _BOUNDS[config_type.name]
            if _INT_RE.fullmatch(trimmed) and -(2**bits) <= int(trimmed) < 2**bits:
                return int(trimmed)
            raise ConfigError.invalid(name, raw, reason=f"Not a number of type {config_type.name}")
        case ConfigType.DOUBLE:
            if _DOUBLE_RE.fullmatch(trimmed):
                return float(trimmed.rstrip("fFdD").replace("Infinity", "inf"))
            raise ConfigError.invalid(name, raw, reason=f"Not a number of type {config_type.name}")
        case ConfigType.LIST:
            # Java's split(regex, -1): empty elements are kept and fail any ValidList.
            return [] if not trimmed else _LIST_SPLIT_RE.split(trimmed)


def to_kafka_string(value: ConfigValue, config_type: ConfigType) -> str | None:
    """``ConfigDef.convertToString``: the text DescribeConfigs shows for a parsed value."""
    if value is None:
        return None
    if config_type is ConfigType.PASSWORD:
        return "[hidden]"
    if isinstance(value, list):
        return ",".join(value)
    return java_repr(value)


def java_repr(value: object) -> str:
    """``String.valueOf`` for the values configs hold: ``true``, ``0.5``, ``1.0E7``, ``[a, b]``."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return _java_double(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(java_repr(v) for v in value) + "]"
    return str(value)


def _java_number(bound: float) -> str:
    return str(int(bound)) if float(bound).is_integer() else _java_double(bound)


def _java_double(value: float) -> str:
    # Double.toString: shortest round-trip digits, plain between 1e-3 and 1e7, else d.dddEn.
    if math.isnan(value):
        return "NaN"
    if value in (float("inf"), float("-inf")):
        return "Infinity" if value > 0 else "-Infinity"
    if value == 0 or 1e-3 <= abs(value) < 1e7:
        return repr(value)
    sign, digits, exponent = decimal.Decimal(repr(value)).normalize().as_tuple()
    assert isinstance(exponent, int)
    mantissa = "".join(map(str, digits))
    scale = exponent + len(mantissa) - 1
    fraction = mantissa[1:] or "0"
    return f"{'-' if sign else ''}{mantissa[0]}.{fraction}E{scale}"
