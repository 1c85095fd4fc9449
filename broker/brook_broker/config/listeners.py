"""Listener endpoints, the listener-to-security-protocol map and controller quorum addresses.

`config.broker` turns ``listeners``, ``advertised.listeners``,
``listener.security.protocol.map`` and ``controller.quorum.voters`` into these objects;
`server/` binds `Listener` sockets and `apis/` advertises them in Metadata responses.
Parsing follows Kafka's (``SocketServerConfigs.listenerListToEndPoints``, ``Csv``):
listener names are upper-cased, an empty host (``PLAINTEXT://:9092``) binds every
interface, IPv6 hosts are written in brackets, and port 0 asks the OS for a free port.
"""

from __future__ import annotations

import dataclasses
import enum
import ipaddress
import re
from collections.abc import Iterable, Mapping

from brook_broker.config.configdef import ConfigError

__all__ = [
    "DEFAULT_SECURITY_PROTOCOL_MAP",
    "Listener",
    "QuorumVoter",
    "SecurityProtocol",
    "parse_listeners",
    "parse_quorum_voters",
    "parse_security_protocol_map",
]

# Kafka's URI_PARSE_REGEXP: NAME://host:port, host optionally in brackets, port may be signed.
_LISTENER_RE = re.compile(r"^(.*)://\[?([0-9a-zA-Z\-%._:]*)\]?:(-?[0-9]+)$")
_VOTER_RE = re.compile(r"^([0-9]+)@\[?([0-9a-zA-Z\-%._:]+?)\]?:([0-9]+)$")
_CSV_SPLIT = re.compile(r"\s*,\s*")
_MAX_PORT = 65535


class SecurityProtocol(enum.Enum):
    """Kafka's ``SecurityProtocol``; the values are its wire ids."""

    PLAINTEXT = 0
    SSL = 1
    SASL_PLAINTEXT = 2
    SASL_SSL = 3


#: ``listener.security.protocol.map``'s default: each protocol name maps to itself.
DEFAULT_SECURITY_PROTOCOL_MAP = "SASL_SSL:SASL_SSL,PLAINTEXT:PLAINTEXT,SSL:SSL,SASL_PLAINTEXT:SASL_PLAINTEXT"


@dataclasses.dataclass(frozen=True, slots=True)
class Listener:
    """One endpoint (Kafka's ``EndPoint``).

    `host` None means every interface, which is also what ``loop.create_server(host=None)``
    binds (IPv4 and IPv6), so `server/` can pass it through unchanged.
    """

    name: str
    host: str | None
    port: int
    security_protocol: SecurityProtocol

    def __str__(self) -> str:
        host = "" if self.host is None else (f"[{self.host}]" if ":" in self.host else self.host)
        return f"{self.name}://{host}:{self.port}"


@dataclasses.dataclass(frozen=True, slots=True)
class QuorumVoter:
    """One ``controller.quorum.voters`` entry: ``id@host:port``."""

    node_id: int
    host: str
    port: int

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.node_id}@{host}:{self.port}"


def parse_security_protocol_map(*, name: str, value: str) -> dict[str, SecurityProtocol]:
    """Parse ``NAME:PROTOCOL,...`` (Kafka's ``Csv.parseCsvMap``, names upper-cased)."""
    result: dict[str, SecurityProtocol] = {}
    if not value.strip():
        return result
    for entry in _CSV_SPLIT.split(value.strip()):
        listener, sep, protocol = entry.rpartition(":")
        if not sep or not listener.strip():
            raise ConfigError(f"Error parsing configuration property '{name}': invalid entry '{entry}'")
        try:
            result[listener.strip().upper()] = SecurityProtocol[protocol.strip().upper()]
        except KeyError:
            raise ConfigError(
                f"Invalid value {protocol.strip()} for configuration {name}: "
                f"Security protocol must be one of {', '.join(p.name for p in SecurityProtocol)}"
            ) from None
    return result


def parse_listeners(
    *,
    name: str,
    value: str,
    protocols: Mapping[str, SecurityProtocol],
    require_distinct_ports: bool = True,
) -> list[Listener]:
    """Parse a listener list and check it the way Kafka's ``listenerListToEndPoints`` does.

    `name` is the config being parsed (for messages). Advertised listeners may share a
    port (they can be different hosts behind NAT), so `require_distinct_ports` is False
    for them.
    """
    listeners: list[Listener] = []
    for entry in (e for e in _CSV_SPLIT.split(value.strip()) if e):
        match = _LISTENER_RE.match(entry)
        if match is None:
            raise ConfigError.invalid(name, value, reason=f"Unable to parse {entry} to a broker endpoint")
        listener_name, host, port_text = match.groups()
        listener_name = listener_name.upper()
        port = int(port_text)
        if not 0 <= port <= _MAX_PORT:
            raise ConfigError(
                f"Invalid value {value} for configuration {name}: port {port} of listener {listener_name} "
                f"is not between 0 and {_MAX_PORT}"
            )
        if listener_name not in protocols:
            raise ConfigError(
                f"Invalid value {value} for configuration {name}: "
                f"No security protocol defined for listener {listener_name}"
            )
        listeners.append(Listener(listener_name, host or None, port, protocols[listener_name]))
    _check_distinct(listeners, value=value, require_distinct_ports=require_distinct_ports)
    return listeners


def parse_quorum_voters(*, name: str, values: Iterable[str]) -> list[QuorumVoter]:
    """Parse ``controller.quorum.voters`` entries (``id@host:port``)."""
    voters: list[QuorumVoter] = []
    for entry in values:
        match = _VOTER_RE.match(entry.strip())
        if match is None or not 0 < int(match.group(3)) <= _MAX_PORT:
            raise ConfigError(
                f"Invalid configuration value for {name}. "
                "Each entry should be in the form `{id}@{host}:{port}`."
            )
        voters.append(QuorumVoter(int(match.group(1)), match.group(2), int(match.group(3))))
    if len({v.node_id for v in voters}) != len(voters):
        raise ConfigError(f"Invalid value {','.join(values)} for configuration {name}: duplicate voter ids")
    return voters


def _check_distinct(listeners: list[Listener], *, value: str, require_distinct_ports: bool) -> None:
    """Kafka's rules: distinct names; distinct ports, except one IPv4 and one IPv6 host may share one."""
    if len({listener.name for listener in listeners}) != len(listeners):
        raise ConfigError(f"Each listener must have a different name, listeners: {value}")
    if not require_distinct_ports:
        return
    by_port: dict[int, list[Listener]] = {}
    for listener in listeners:
        if listener.port != 0:  # port 0 picks a free port each time, so it never clashes
            by_port.setdefault(listener.port, []).append(listener)
    for port, sharing in by_port.items():
        if len(sharing) < 2:
            continue
        with_ip = [listener for listener in sharing if _ip_version(listener.host) is not None]
        if len(sharing) - len(with_ip) > 1:
            raise ConfigError(f"Each listener must have a different port, listeners: {value}")
        if not with_ip:
            continue
        if len(with_ip) != 2:
            raise ConfigError(
                "Each listener must have a different port unless exactly one listener has an IPv4 address "
                f"and the other IPv6 address, listeners: {value}, port: {port}"
            )
        if len(sharing) > 2 or {_ip_version(listener.host) for listener in with_ip} != {4, 6}:
            raise ConfigError(
                "If you have two listeners on the same port then one needs to be IPv4 and the other IPv6, "
                f"listeners: {value}, port: {port}"
            )


def _ip_version(host: str | None) -> int | None:
    try:
        return ipaddress.ip_address(host or "").version
    except ValueError:
        return None
