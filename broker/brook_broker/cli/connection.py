"""Connecting to Kafka brokers from the client side: settings, bootstrap, and why it failed.

Used by `cli.client.Admin` (so also by the operator's `brook_operator.admin`) and by the
produce/consume commands (through `cli.common`), so that every client reaches brokers the
same way: the same bootstrap syntax, the same timeouts, and the same one-line reason when a
broker cannot be reached.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import socket
from typing import Any

from aiokafka.client import AIOKafkaClient
from aiokafka.errors import KafkaConnectionError

DEFAULT_BOOTSTRAP = "127.0.0.1:9092"
BOOTSTRAP_ENV = "BROOK_BOOTSTRAP_SERVER"
DEFAULT_TIMEOUT_S = 30.0
#: Reaching the bootstrap server never waits longer than this, whatever the command timeout.
CONNECT_TIMEOUT_S = 5.0
CLIENT_ID = "brook-cli"


@dataclasses.dataclass(frozen=True, slots=True)
class ConnectionSettings:
    bootstrap_servers: str = DEFAULT_BOOTSTRAP
    timeout_s: float = DEFAULT_TIMEOUT_S
    #: What brokers log and DescribeGroups shows; the operator passes its own.
    client_id: str = CLIENT_ID

    def aiokafka_options(self) -> dict[str, Any]:
        """Keyword arguments shared by every aiokafka client the CLI creates."""
        return {
            "bootstrap_servers": self.bootstrap_servers.split(","),
            "client_id": self.client_id,
            "request_timeout_ms": int(self.timeout_s * 1000),
        }


class BrokerUnreachableError(Exception):
    def __init__(self, address: str, reason: str) -> None:
        self.address = address
        self.reason = reason
        super().__init__(f"cannot reach {address} ({reason})")


class BrokerTimeoutError(Exception):
    def __init__(self, what: str, timeout_s: float) -> None:
        super().__init__(f"{what}: no answer within {timeout_s:g} s")


def parse_bootstrap(value: str) -> list[tuple[str, int]]:
    """``host:port[,host:port...]`` (IPv6 as ``[::1]:9092``); ValueError when malformed."""
    servers: list[tuple[str, int]] = []
    for item in value.split(","):
        host, sep, port = item.strip().rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(f"expected HOST:PORT, got {item.strip()!r}")
        servers.append((host.strip("[]"), int(port)))
    return servers


async def diagnose(bootstrap_servers: str, *, timeout_s: float = CONNECT_TIMEOUT_S) -> str:
    """Why the first bootstrap server cannot be used, in a few words (for error lines)."""
    host, port = parse_bootstrap(bootstrap_servers)[0]
    try:
        async with asyncio.timeout(timeout_s):
            _, writer = await asyncio.open_connection(host, port)
    except TimeoutError:
        return f"no connection within {timeout_s:g} s"
    except ConnectionRefusedError:
        return "connection refused"
    except socket.gaierror as exc:
        return f"unknown host: {exc.strerror}"
    except OSError as exc:
        return (exc.strerror or str(exc)).lower()
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return "it accepts connections but did not answer as a Kafka broker"


async def open_client(settings: ConnectionSettings) -> AIOKafkaClient:
    """A bootstrapped aiokafka client, or `BrokerUnreachableError` within `CONNECT_TIMEOUT_S`."""
    client = AIOKafkaClient(**settings.aiokafka_options(), metadata_max_age_ms=300_000)
    try:
        async with asyncio.timeout(min(settings.timeout_s, CONNECT_TIMEOUT_S)):
            await client.bootstrap()
    except (KafkaConnectionError, TimeoutError):
        await client.close()
        reason = await diagnose(
            settings.bootstrap_servers, timeout_s=min(settings.timeout_s, CONNECT_TIMEOUT_S)
        )
        raise BrokerUnreachableError(settings.bootstrap_servers, reason) from None
    return client
