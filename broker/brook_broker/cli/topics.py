"""`brook topics create|list|describe|alter|delete`: kafka-topics.sh with readable output.

Registered by `cli.main`; each action opens one `cli.client.Admin`, makes its requests and
prints the result: rich tables on a terminal, and output scripts can parse otherwise
(`topics list` then prints one name per line).
"""

from __future__ import annotations

import argparse
import base64
import sys
import uuid
from typing import TYPE_CHECKING, Any

from kio.schema.errors import ErrorCode

from brook_broker.cli.client import Admin, ConfigEntry, KafkaApiError, TopicDescription
from brook_broker.cli.common import (
    EXIT_ERROR,
    EXIT_OK,
    EXIT_USAGE,
    add_connection_options,
    client_command,
    key_value,
)
from brook_broker.cli.connection import ConnectionSettings
from brook_broker.cli.errors import CliError

if TYPE_CHECKING:
    from rich.console import Console


def register(commands: Any) -> None:
    topics = commands.add_parser("topics", help="create, list, describe, alter and delete topics")
    actions = topics.add_subparsers(dest="action", metavar="ACTION", required=True)

    create = actions.add_parser("create", help="create a topic")
    create.add_argument("topic", metavar="TOPIC")
    create.add_argument(
        "--partitions",
        type=_positive_int,
        default=-1,
        metavar="N",
        help="default: the broker's num.partitions",
    )
    create.add_argument(
        "--replication-factor",
        type=_positive_int,
        default=-1,
        metavar="N",
        help="default: the broker's default.replication.factor",
    )
    create.add_argument(
        "--config",
        type=key_value,
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="topic config (repeatable)",
    )
    create.add_argument("--if-not-exists", action="store_true", help="succeed if the topic already exists")
    create.set_defaults(run=client_command(_create))

    listing = actions.add_parser("list", help="list topic names")
    listing.add_argument("--exclude-internal", action="store_true", help="leave out internal topics")
    listing.set_defaults(run=client_command(_list))

    describe = actions.add_parser(
        "describe", help="partitions, leaders, replicas, ISR and overridden configs"
    )
    describe.add_argument("topics", nargs="*", metavar="TOPIC", help="default: every topic")
    describe.set_defaults(run=client_command(_describe))

    alter = actions.add_parser("alter", help="add partitions, set or remove topic configs")
    alter.add_argument("topic", metavar="TOPIC")
    alter.add_argument(
        "--partitions", type=_positive_int, metavar="N", help="new total partition count (only grows)"
    )
    alter.add_argument(
        "--config",
        type=key_value,
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="set a config (repeatable)",
    )
    alter.add_argument(
        "--delete-config",
        action="append",
        default=[],
        metavar="KEY",
        help="revert a config to its default (repeatable)",
    )
    alter.set_defaults(run=client_command(_alter))

    delete = actions.add_parser("delete", help="delete topics")
    delete.add_argument("topics", nargs="+", metavar="TOPIC")
    delete.add_argument("--if-exists", action="store_true", help="succeed for topics that do not exist")
    delete.set_defaults(run=client_command(_delete))

    for parser in (create, listing, describe, alter, delete):
        add_connection_options(parser)


# --- create ------------------------------------------------------------------------------


async def _create(args: argparse.Namespace, settings: ConnectionSettings) -> int:
    async with Admin(settings) as admin:
        try:
            created = await admin.create_topic(
                args.topic,
                partitions=args.partitions,
                replication_factor=args.replication_factor,
                configs=dict(args.config),
            )
        except KafkaApiError as exc:
            if args.if_not_exists and exc.code == ErrorCode.topic_already_exists:
                print(f"Topic {args.topic} already exists.", file=sys.stderr)
                return EXIT_OK
            raise
    print(
        f"Created topic {created.name} ({_plural(created.partitions, 'partition')}, "
        f"replication factor {created.replication_factor})."
    )
    return EXIT_OK


# --- list --------------------------------------------------------------------------------


async def _list(args: argparse.Namespace, settings: ConnectionSettings) -> int:
    async with Admin(settings) as admin:
        topics = await admin.describe_topics(None)
    if args.exclude_internal:
        topics = [t for t in topics if not t.internal]
    if not sys.stdout.isatty():
        # Scripts read this: one name per line, nothing else.
        for topic in topics:
            print(topic.name)
        return EXIT_OK
    # rich takes a noticeable part of a second to import; only the table printers pay for it.
    from rich.console import Console
    from rich.table import Table

    console = Console()
    table = Table("TOPIC", "PARTITIONS", "REPLICATION FACTOR", "TOPIC ID", box=None, header_style="bold")
    for topic in topics:
        name = f"{topic.name} [dim](internal)[/dim]" if topic.internal else topic.name
        table.add_row(
            name, str(len(topic.partitions)), str(topic.replication_factor), format_topic_id(topic.topic_id)
        )
    console.print(table if topics else "[dim]no topics[/dim]")
    return EXIT_OK


# --- describe ----------------------------------------------------------------------------


async def _describe(args: argparse.Namespace, settings: ConnectionSettings) -> int:
    async with Admin(settings) as admin:
        # Kafka answers unknown names per topic; `describe_topics` raises for the first one,
        # before anything is printed, as kafka-topics.sh does.
        topics = await admin.describe_topics(args.topics or None)
        configs = await admin.topic_configs([t.name for t in topics]) if topics else {}
    from rich.console import Console

    # soft_wrap: a long Configs line stays one line when stdout is not a terminal.
    console = Console(soft_wrap=True)
    for index, topic in enumerate(topics):
        if index:
            console.print()
        render_topic(console, topic, configs.get(topic.name, []))
    return EXIT_OK


def render_topic(console: Console, topic: TopicDescription, configs: list[ConfigEntry]) -> None:
    """One topic as kafka-topics.sh --describe shows it: a summary line, configs, a partition table."""
    from rich.markup import escape
    from rich.table import Table

    console.print(
        f"[bold]Topic:[/bold] {topic.name}  [bold]TopicId:[/bold] {format_topic_id(topic.topic_id)}  "
        f"[bold]PartitionCount:[/bold] {len(topic.partitions)}  "
        f"[bold]ReplicationFactor:[/bold] {topic.replication_factor}",
        highlight=False,
        markup=True,
    )
    # Like Kafka's TopicCommand: every config whose value is not the built-in default.
    overridden = [c for c in configs if not c.is_default]
    shown = escape(",".join(f"{c.name}={'<sensitive>' if c.sensitive else c.value}" for c in overridden))
    console.print(f"[bold]Configs:[/bold] {shown}", highlight=False)
    table = Table("PARTITION", "LEADER", "REPLICAS", "ISR", header_style="bold")
    for p in topic.partitions:
        leader = str(p.leader) if p.leader >= 0 else "none"
        isr_style = "" if set(p.isr) >= set(p.replicas) else "yellow"
        table.add_row(
            str(p.partition),
            leader,
            _ids(p.replicas),
            f"[{isr_style}]{_ids(p.isr)}[/]" if isr_style else _ids(p.isr),
        )
    console.print(table)


def format_topic_id(topic_id: uuid.UUID | None) -> str:
    """Kafka's Uuid.toString(): URL-safe base64 without padding."""
    if topic_id is None or topic_id.int == 0:
        return "-"
    return base64.urlsafe_b64encode(topic_id.bytes).rstrip(b"=").decode()


# --- alter -------------------------------------------------------------------------------


async def _alter(args: argparse.Namespace, settings: ConnectionSettings) -> int:
    if args.partitions is None and not args.config and not args.delete_config:
        raise CliError(
            "nothing to alter: give --partitions, --config or --delete-config", exit_code=EXIT_USAGE
        )
    done = []
    async with Admin(settings) as admin:
        if args.delete_config:
            # Kafka accepts DELETE for any name and does nothing; kafka-configs.sh checks the
            # names first so that a typo is not reported as success. So do we.
            known = {c.name for c in (await admin.topic_configs([args.topic]))[args.topic]}
            if unknown := [k for k in args.delete_config if k not in known]:
                raise CliError(f"topic '{args.topic}' has no config named {', '.join(unknown)}")
        if args.config or args.delete_config:
            await admin.alter_topic_configs(
                args.topic, set_configs=dict(args.config), delete_configs=args.delete_config
            )
            done += [f"set {k}={v}" for k, v in dict(args.config).items()]
            done += [f"reverted {k} to its default" for k in args.delete_config]
        if args.partitions is not None:
            await admin.create_partitions(args.topic, args.partitions)
            done.append(f"now {_plural(args.partitions, 'partition')}")
    print(f"Altered topic {args.topic}: {'; '.join(done)}.")
    return EXIT_OK


# --- delete ------------------------------------------------------------------------------


async def _delete(args: argparse.Namespace, settings: ConnectionSettings) -> int:
    async with Admin(settings) as admin:
        outcome = await admin.delete_topics(list(dict.fromkeys(args.topics)))
    status = EXIT_OK
    for name, error in outcome.items():
        if error is None:
            print(f"Deleted topic {name}.")
        elif args.if_exists and error.code == ErrorCode.unknown_topic_or_partition:
            print(f"Topic {name} does not exist.", file=sys.stderr)
        else:
            # Several topics can fail independently: one error line each.
            print(f"error: {error}", file=sys.stderr)
            status = EXIT_ERROR
    return status


# --- helpers -----------------------------------------------------------------------------


def _ids(ids: tuple[int, ...]) -> str:
    return ",".join(map(str, ids)) or "-"


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value
