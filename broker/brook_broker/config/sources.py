"""Where broker settings come from, merged in order: file < environment < ``--override``.

`config.broker.load_broker_config` calls `merge_sources`; the result (raw strings plus the
origin of each) is what `BrokerConfig.from_properties` parses, and what DescribeConfigs
reports as STATIC_BROKER_CONFIG.

Environment variables: ``BROOK_`` followed by the config name in upper case with dots as
underscores (``BROOK_LOG_DIRS`` sets ``log.dirs``, ``BROOK_NUM_PARTITIONS`` sets
``num.partitions``). The name is looked up in the definition table rather than rebuilt by
replacing underscores, so there is nothing to escape; a ``BROOK_*`` variable that names no
config is reported, not guessed at.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Mapping, Sequence
from pathlib import Path

from brook_broker.config.broker_definitions import BROKER_CONFIGS, ENV_PREFIX, resolve_env_name
from brook_broker.config.configdef import ConfigError
from brook_broker.config.properties import PropertiesSyntaxError, load_properties

__all__ = ["MergedSources", "Origin", "merge_sources", "parse_override"]


class Origin(enum.Enum):
    """Which source supplied a value; all three are Kafka's STATIC_BROKER_CONFIG."""

    FILE = "file"
    ENV = "env"
    OVERRIDE = "override"


@dataclasses.dataclass(frozen=True, slots=True)
class MergedSources:
    """Raw values by config name (later sources win), where each came from, and warnings."""

    values: dict[str, str]
    origins: dict[str, Origin]
    warnings: list[str]


def merge_sources(
    *,
    path: Path | None,
    overrides: Sequence[str],
    env: Mapping[str, str],
) -> MergedSources:
    """Read the file, the ``BROOK_*`` variables and the overrides, in that order of precedence."""
    values: dict[str, str] = {}
    origins: dict[str, Origin] = {}
    warnings: list[str] = []

    def put(items: Mapping[str, str], origin: Origin) -> None:
        for name, value in items.items():
            values[name] = value
            origins[name] = origin

    if path is not None:
        put(_read_file(path), Origin.FILE)
    from_env: dict[str, str] = {}
    for variable in sorted(env):
        if not variable.startswith(ENV_PREFIX):
            continue
        name = resolve_env_name(variable)
        if name is None:
            warnings.append(
                f"The environment variable '{variable}' does not name a known config and is ignored."
            )
        else:
            from_env[name] = env[variable]
    put(from_env, Origin.ENV)
    put(dict(parse_override(item) for item in overrides), Origin.OVERRIDE)
    # Kafka logs unknown names and carries on: a typo must not stop a broker, but must show.
    warnings.extend(
        f"The configuration '{name}' was supplied but isn't a known config."
        for name in values
        if name not in BROKER_CONFIGS
    )
    return MergedSources(values=values, origins=origins, warnings=warnings)


def parse_override(item: str) -> tuple[str, str]:
    """Split one ``--override key=value``; the value may itself contain ``=``."""
    name, sep, value = item.partition("=")
    if not sep or not name.strip():
        raise ConfigError(f"Invalid override '{item}': expected key=value, for example num.partitions=3")
    return name.strip(), value


def _read_file(path: Path) -> dict[str, str]:
    try:
        return load_properties(path)
    except FileNotFoundError:
        raise ConfigError(f"Configuration file {path} does not exist") from None
    except IsADirectoryError:
        raise ConfigError(f"Configuration file {path} is a directory") from None
    except PermissionError:
        raise ConfigError(f"Configuration file {path} cannot be read: permission denied") from None
    except PropertiesSyntaxError as error:
        raise ConfigError(f"Configuration file {path} is not a valid properties file: {error}") from None
