"""What every client command of the `brook` CLI shares: connection flags and error handling.

`topics`, `produce` and `consume` call `add_connection_options` on their parsers and run
their coroutine through `run_client`, which turns the admin layer's exceptions (and
aiokafka's) into the one-line ``error: ...`` that `cli.main` prints, with exit code 1.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
from collections.abc import Callable, Coroutine
from typing import Any

from aiokafka.errors import KafkaConnectionError, KafkaError, KafkaTimeoutError
from kio.schema.errors import ErrorCode

from brook_broker.cli.client import KafkaApiError
from brook_broker.cli.connection import (
    BOOTSTRAP_ENV,
    DEFAULT_BOOTSTRAP,
    DEFAULT_TIMEOUT_S,
    BrokerTimeoutError,
    BrokerUnreachableError,
    ConnectionSettings,
    diagnose,
    parse_bootstrap,
)
from brook_broker.cli.errors import CliError

#: Exit codes of the client commands (documented in docs/cli.md).
EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2


def add_connection_options(parser: argparse.ArgumentParser) -> None:
    default = os.environ.get(BOOTSTRAP_ENV) or DEFAULT_BOOTSTRAP
    parser.add_argument(
        "--bootstrap-server",
        default=default,
        type=_bootstrap,
        metavar="HOST:PORT",
        help=f"broker to connect to (default: ${BOOTSTRAP_ENV} or {DEFAULT_BOOTSTRAP}; currently {default})",
    )
    parser.add_argument(
        "--command-timeout",
        default=DEFAULT_TIMEOUT_S,
        type=_positive_seconds,
        metavar="SECONDS",
        help=f"give up on a broker request after this long (default: {DEFAULT_TIMEOUT_S:g})",
    )


def settings_from(args: argparse.Namespace) -> ConnectionSettings:
    return ConnectionSettings(bootstrap_servers=args.bootstrap_server, timeout_s=args.command_timeout)


def key_value(text: str) -> tuple[str, str]:
    """argparse type for ``k=v`` flags (--config, --header): a malformed one is a usage error."""
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    return key, value


Handler = Callable[[argparse.Namespace, ConnectionSettings], Coroutine[Any, Any, int]]


def client_command(handler: Handler) -> Callable[[argparse.Namespace], int]:
    """Adapt ``async handler(args, settings) -> exit code`` to the ``run(args)`` `cli.main` calls."""

    def run(args: argparse.Namespace) -> int:
        settings = settings_from(args)
        return run_client(handler(args, settings), settings=settings)

    return run


def run_client(coroutine: Coroutine[Any, Any, int], *, settings: ConnectionSettings) -> int:
    """Run a client command's coroutine; every failure becomes a `CliError` (one line, exit 1)."""
    _silence_aiokafka()
    try:
        return asyncio.run(_guarded(coroutine, settings))
    except (BrokerUnreachableError, BrokerTimeoutError, KafkaApiError) as exc:
        raise CliError(str(exc)) from None


async def _guarded(coroutine: Coroutine[Any, Any, int], settings: ConnectionSettings) -> int:
    try:
        return await coroutine
    except KafkaConnectionError:
        # The producer and consumer bootstrap on their own; say why the way `Admin` does.
        reason = await diagnose(settings.bootstrap_servers)
        raise BrokerUnreachableError(settings.bootstrap_servers, reason) from None
    except KafkaTimeoutError:
        raise BrokerTimeoutError("request", settings.timeout_s) from None
    except KafkaError as exc:
        raise from_aiokafka(exc) from None


def from_aiokafka(exc: KafkaError, *, topic: str | None = None) -> KafkaApiError:
    """aiokafka's broker-error exceptions carry the Kafka code as ``errno``."""
    errno = getattr(exc, "errno", None)
    try:
        code = ErrorCode(errno) if isinstance(errno, int) else ErrorCode.unknown_server_error
    except ValueError:
        code = ErrorCode.unknown_server_error
    detail = str(exc.args[0]) if exc.args else None
    return KafkaApiError(code, detail, name=topic)


def _silence_aiokafka() -> None:
    # aiokafka logs connection failures at ERROR; without a handler Python's last-resort
    # handler would print them to stderr next to our own one-line error.
    logger = logging.getLogger("aiokafka")
    if not logger.handlers:
        logger.addHandler(logging.NullHandler())
        logger.propagate = False


def _bootstrap(text: str) -> str:
    try:
        parse_bootstrap(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def _positive_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError("must be more than 0")
    return value
