"""From parsed broker values to `BrokerConfig` fields, and the rules that span several configs.

`BrokerConfig.from_properties` calls `effective_fields` (listeners parsed against the
security protocol map, ``log.dirs`` falling back to ``log.dir``, the inter-broker listener
resolved) and then `check_consistency`, which enforces what Kafka's
``KafkaConfig.validateValues`` enforces for KRaft roles and listeners. Every failure is a
one-line `ConfigError` worded as Kafka words it.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from brook_broker.config.configdef import ConfigError, ConfigValue
from brook_broker.config.listeners import (
    SecurityProtocol,
    parse_listeners,
    parse_quorum_voters,
    parse_security_protocol_map,
)

if TYPE_CHECKING:
    from brook_broker.config.broker import BrokerConfig

__all__ = ["check_consistency", "effective_fields"]

_SECURE = {SecurityProtocol.SSL.name, SecurityProtocol.SASL_SSL.name, SecurityProtocol.SASL_PLAINTEXT.name}


def effective_fields(values: Mapping[str, ConfigValue], *, given: set[str]) -> dict[str, object]:
    """Turn Kafka-typed values (every known name) into the model's input, keyed by config name."""
    fields: dict[str, object] = dict(values)
    controller_names = [name.upper() for name in _list(values["controller.listener.names"])]
    protocols = _protocol_map(values, given=given, controller_names=controller_names)
    listeners = parse_listeners(name="listeners", value=_joined(values["listeners"]), protocols=protocols)
    advertised_text = values["advertised.listeners"]
    advertised = (
        parse_listeners(
            name="advertised.listeners",
            value=_joined(advertised_text),
            protocols=protocols,
            require_distinct_ports=False,
        )
        if advertised_text is not None
        else listeners
    )
    fields.update(
        {
            "listener.security.protocol.map": protocols,
            "listeners": listeners,
            "advertised.listeners": advertised,
            "controller.listener.names": controller_names,
            "controller.quorum.voters": parse_quorum_voters(
                name="controller.quorum.voters", values=_list(values["controller.quorum.voters"])
            ),
            "inter.broker.listener.name": _inter_broker_listener(values, given=given, protocols=protocols),
            "log.dirs": _log_dirs(values),
        }
    )
    return fields


def check_consistency(config: BrokerConfig) -> None:
    """Kafka's cross-config rules; raises `ConfigError` on the first one broken."""
    _check_node_id(config)
    _check_log_settings(config)
    _check_replication(config)
    roles: set[str] = set(config.process_roles)
    # No roles is Brook's single-node mode: no quorum to check, but the broker rules hold.
    if roles:
        _check_kraft(config, roles=roles)
    if not roles or "broker" in roles:
        _check_broker_listeners(config)
    for listener in [
        *config.effective_advertised_listeners,
        *config.effective_advertised_controller_listeners,
    ]:
        if listener.host == "0.0.0.0":
            raise ConfigError(
                "advertised.listeners cannot use the nonroutable meta-address 0.0.0.0. "
                "Use a routable IP address."
            )


def _protocol_map(
    values: Mapping[str, ConfigValue], *, given: set[str], controller_names: list[str]
) -> dict[str, SecurityProtocol]:
    name = "listener.security.protocol.map"
    protocols = parse_security_protocol_map(name=name, value=_text(values[name]))
    if name in given:
        return protocols
    # KRaft nicety (Kafka's effectiveListenerSecurityProtocolMap): with the default map and no
    # TLS or SASL anywhere, controller listener names are taken to be PLAINTEXT.
    listener_names = [entry.partition(":")[0].upper() for entry in _list(values["listeners"])]
    if any(n in _SECURE for n in [*controller_names, *listener_names]):
        return protocols
    for controller in controller_names:
        protocols.setdefault(controller, SecurityProtocol.PLAINTEXT)
    return protocols


def _inter_broker_listener(
    values: Mapping[str, ConfigValue], *, given: set[str], protocols: Mapping[str, SecurityProtocol]
) -> str:
    explicit = values["inter.broker.listener.name"]
    # The older setting names a protocol, and the listener of that name is the one used.
    if explicit is None:
        return _text(values["security.inter.broker.protocol"])
    if "security.inter.broker.protocol" in given:
        raise ConfigError(
            "Only one of inter.broker.listener.name and security.inter.broker.protocol should be set."
        )
    name = _text(explicit).upper()
    if name not in protocols:
        raise ConfigError(
            f"Listener with name {name} defined in inter.broker.listener.name not found in "
            "listener.security.protocol.map."
        )
    return name


def _log_dirs(values: Mapping[str, ConfigValue]) -> list[Path]:
    chosen = values["log.dirs"] if values["log.dirs"] is not None else values["log.dir"]
    dirs = [Path(entry) for entry in _list(chosen)]
    if not dirs:
        raise ConfigError("At least one log directory must be defined via log.dirs or log.dir.")
    return dirs


def _check_node_id(config: BrokerConfig) -> None:
    # from_properties copies one id into the other, so they differ only when both were given.
    if config.broker_id not in (-1, config.node_id):
        raise ConfigError(
            f"broker.id ({config.broker_id}) and node.id ({config.node_id}) must be equal; set only node.id."
        )


def _check_log_settings(config: BrokerConfig) -> None:
    if config.segment_ms < 1:
        raise ConfigError("log.roll.ms must be greater than or equal to 1")
    if config.segment_jitter_ms < 0:
        raise ConfigError("log.roll.jitter.ms must be greater than or equal to 0")
    if config.retention_ms == 0:
        raise ConfigError("log.retention.ms must be unlimited (-1) or, greater than or equal to 1")
    threads = config.log_cleaner_threads
    # Kafka divides the dedupe buffer between cleaner threads; each needs a useful share.
    if threads > 0 and config.log_cleaner_dedupe_buffer_size // threads <= 1024 * 1024:
        raise ConfigError("log.cleaner.dedupe.buffer.size must be at least 1MB per cleaner thread.")
    # A queue smaller than one request could never admit the largest request.
    if 0 < config.queued_max_request_bytes < config.socket_request_max_bytes:
        raise ConfigError(
            f"queued.max.request.bytes ({config.queued_max_request_bytes}) must be larger than "
            f"socket.request.max.bytes ({config.socket_request_max_bytes})"
        )


def _check_replication(config: BrokerConfig) -> None:
    if config.replica_fetch_wait_max_ms > config.replica_socket_timeout_ms:
        raise ConfigError(
            "replica.socket.timeout.ms should always be at least replica.fetch.wait.max.ms to prevent "
            "unnecessary socket timeouts"
        )
    if config.replica_fetch_wait_max_ms > config.replica_lag_time_max_ms:
        raise ConfigError(
            "replica.fetch.wait.max.ms should always be less than or equal to replica.lag.time.max.ms to "
            "prevent frequent changes in ISR"
        )


def _check_kraft(config: BrokerConfig, *, roles: set[str]) -> None:
    voter_ids = {voter.node_id for voter in config.controller_quorum_voters}
    if not voter_ids and not config.controller_quorum_bootstrap_servers:
        raise ConfigError(
            "If using process.roles, either controller.quorum.bootstrap.servers must contain the set of "
            "bootstrap controllers or controller.quorum.voters must contain a parseable set of controllers."
        )
    names = config.controller_listener_names
    listener_names = {listener.name for listener in config.listeners}
    if roles == {"broker"}:
        if config.node_id in voter_ids:
            raise ConfigError(
                f"If process.roles contains just the 'broker' role, the node id {config.node_id} must not be "
                f"included in the set of voters controller.quorum.voters={sorted(voter_ids)}"
            )
        if not names:
            raise ConfigError(
                "controller.listener.names must contain at least one value when running KRaft with just the "
                "broker role"
            )
        if listener_names & set(names):
            raise ConfigError(
                "controller.listener.names must not contain a value appearing in the 'listeners' "
                "configuration when running KRaft with just the broker role"
            )
        for name in names:
            if name.upper() not in config.listener_security_protocol_map:
                raise ConfigError(
                    f"Controller listener with name {name.upper()} defined in controller.listener.names not "
                    "found in listener.security.protocol.map"
                )
        return
    # The controller role, alone or combined with the broker role: it must serve the quorum.
    if roles == {"controller"} and not listener_names <= set(names):
        raise ConfigError(
            "The listeners config must only contain KRaft controller listeners from "
            "controller.listener.names when process.roles=controller"
        )
    if voter_ids and config.node_id not in voter_ids:
        raise ConfigError(
            f"If process.roles contains the 'controller' role, the node id {config.node_id} must be included "
            f"in the set of voters controller.quorum.voters={sorted(voter_ids)}"
        )
    if not names or not set(names) <= listener_names:
        raise ConfigError(
            "controller.listener.names must only contain values appearing in the 'listeners' configuration "
            "when running the KRaft controller role"
        )


def _check_broker_listeners(config: BrokerConfig) -> None:
    # Clients and other brokers only learn advertised endpoints, so they must be usable ones.
    advertised = {listener.name for listener in config.effective_advertised_listeners}
    if not advertised:
        raise ConfigError(
            "There must be at least one broker advertised listener. Perhaps all listeners appear in "
            "controller.listener.names?"
        )
    if config.inter_broker_listener_name not in advertised:
        raise ConfigError(
            "inter.broker.listener.name must be a listener name defined in advertised.listeners. The valid "
            f"options based on currently configured listeners are {','.join(sorted(advertised))}"
        )
    listener_names = {listener.name for listener in config.listeners}
    if not advertised <= listener_names:
        raise ConfigError(
            "advertised.listeners listener names must be equal to or a subset of the ones defined in "
            f"listeners. Found {','.join(sorted(advertised))}. The valid options based on the current "
            f"configuration are {','.join(sorted(listener_names))}"
        )


def _text(value: ConfigValue) -> str:
    return "" if value is None else str(value)


def _joined(value: ConfigValue) -> str:
    return ",".join(_list(value))


def _list(value: ConfigValue) -> list[str]:
    return value if isinstance(value, list) else []
