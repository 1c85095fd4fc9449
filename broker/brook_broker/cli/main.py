"""Entry point of the `brook` command: parses the command line and runs one subcommand.

Subcommands live in their own modules (`cli.broker`, `cli.topics`, `cli.produce`,
`cli.consume`, `cli.groups`); each registers its parser here and returns an exit code. User
mistakes (bad flags, bad configs, unreachable brokers) end with one line on stderr and a
non-zero exit code, never a traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from brook_broker.cli import broker, consume, errors, groups, produce, topics


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="brook", description="Brook: a Kafka-compatible streaming platform, written in Python."
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    broker.register(commands)
    topics.register(commands)
    produce.register(commands)
    consume.register(commands)
    groups.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.run(args))
    except errors.CliError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
