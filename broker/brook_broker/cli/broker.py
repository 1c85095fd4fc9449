"""`brook broker start`: run a broker in the foreground until SIGTERM/SIGINT.

Configuration comes from a Kafka ``server.properties`` file, ``BROOK_*`` environment
variables and ``--override key=value`` flags, in that order of precedence (see
`config.broker`). Logs go to stderr in Kafka's layout so that existing log tooling reads them.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from brook_broker.cli.errors import CliError

if TYPE_CHECKING:
    from brook_broker.config.broker import BrokerConfig

LOG_FORMAT = "[%(asctime)s] %(levelname)s %(message)s (%(name)s)"


def register(commands: Any) -> None:
    broker = commands.add_parser("broker", help="run a Brook broker")
    actions = broker.add_subparsers(dest="action", metavar="ACTION", required=True)
    start = actions.add_parser("start", help="start a broker in the foreground (Ctrl-C stops it cleanly)")
    start.add_argument("--config", type=Path, help="a Kafka server.properties file")
    start.add_argument(
        "--override",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="set one property, overriding the file and the environment (repeatable)",
    )
    start.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    start.set_defaults(run=run_start)


def run_start(args: argparse.Namespace) -> int:
    logging.basicConfig(level=args.log_level, format=LOG_FORMAT, stream=sys.stderr)
    # Imported here: the client commands should not pay for the broker's config tables.
    from brook_broker.config.broker import load_broker_config
    from brook_broker.config.configdef import ConfigError

    if args.config is not None and not args.config.is_file():
        raise CliError(f"config file {args.config} does not exist")
    try:
        config, warnings = load_broker_config(path=args.config, overrides=args.override, env=os.environ)
    except ConfigError as exc:
        raise CliError(str(exc)) from None
    for warning in warnings:
        logging.getLogger("brook_broker.config").warning(warning)
    return run_broker(config)


def run_broker(config: BrokerConfig) -> int:
    """Run until a signal arrives; exit code 0 after a clean shutdown."""
    import uvloop

    return uvloop.run(_serve(config))


async def _serve(config: BrokerConfig) -> int:
    from brook_broker.server.broker import BrokerServer

    server = BrokerServer(config)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    try:
        await server.start()
    except OSError as exc:
        await server.shutdown()
        raise CliError(f"cannot start the broker: {exc.strerror or exc}") from None
    await stop.wait()
    await server.shutdown()
    return 0
