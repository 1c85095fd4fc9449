"""`brook groups list|describe|reset-offsets|delete|delete-offsets`: kafka-consumer-groups.sh, readable.

Registered by `cli.main`. Each action opens one `cli.client.Admin` (the admin layer the
operator shares) and prints what ``kafka-consumer-groups.sh`` prints, with the same columns
and the same numbers: rich tables on a terminal, aligned plain columns otherwise (see
`cli.tables`). Rows go to stdout; notes and totals (the total lag, "has no active members")
go to stderr, as the produce and consume summaries do. `reset-offsets` lives in
`cli.offset_reset`.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

from brook_broker.cli import offset_reset
from brook_broker.cli.client import LATEST, Admin, TopicPartition
from brook_broker.cli.common import EXIT_ERROR, EXIT_OK, add_connection_options, client_command
from brook_broker.cli.connection import ConnectionSettings
from brook_broker.cli.errors import CliError
from brook_broker.cli.group_client import CommittedOffset, GroupDescription
from brook_broker.cli.kafka_errors import KafkaApiError
from brook_broker.cli.tables import MISSING, cell, print_table

#: Kafka's group states (GroupState) by lower-case name, for ``--state`` (any case, like Kafka).
STATES = {
    s.lower(): s
    for s in (
        "PreparingRebalance",
        "CompletingRebalance",
        "Stable",
        "Dead",
        "Empty",
        "Assigning",
        "Reconciling",
    )
}
REBALANCING = frozenset({"PreparingRebalance", "CompletingRebalance", "Assigning", "Reconciling"})


def register(commands: Any) -> None:
    groups = commands.add_parser("groups", help="list, describe, reset offsets of and delete consumer groups")
    actions = groups.add_subparsers(dest="action", metavar="ACTION", required=True)

    listing = actions.add_parser("list", help="list consumer groups")
    listing.add_argument(
        "--state",
        type=_states,
        action="append",
        default=[],
        metavar="STATE",
        help="only groups in this state (repeatable or comma-separated: Stable, Empty, ...)",
    )
    listing.set_defaults(run=client_command(_list))

    describe = actions.add_parser("describe", help="a group's offsets and lag, members or state")
    describe.add_argument("group", metavar="GROUP")
    view = describe.add_mutually_exclusive_group()
    view.add_argument("--members", action="store_true", help="the members and their partitions")
    view.add_argument("--state", action="store_true", help="coordinator, assignor, state, member count")
    describe.set_defaults(run=client_command(_describe))

    reset = actions.add_parser(
        "reset-offsets", help="move a group's committed offsets (dry run unless --execute)"
    )
    offset_reset.add_arguments(reset)
    reset.set_defaults(run=client_command(offset_reset.run))

    delete = actions.add_parser("delete", help="delete groups without members, with their offsets")
    delete.add_argument("groups", nargs="+", metavar="GROUP")
    delete.set_defaults(run=client_command(_delete))

    delete_offsets = actions.add_parser("delete-offsets", help="delete a group's offsets of some topics")
    delete_offsets.add_argument("group", metavar="GROUP")
    delete_offsets.add_argument(
        "--topic",
        type=offset_reset.topic_spec,
        action="append",
        required=True,
        metavar="TOPIC[:P,P...]",
        help="a topic, or some of its partitions (repeatable)",
    )
    delete_offsets.set_defaults(run=client_command(_delete_offsets))

    for parser in (listing, describe, reset, delete, delete_offsets):
        add_connection_options(parser)


# --- list --------------------------------------------------------------------------------


async def _list(args: argparse.Namespace, settings: ConnectionSettings) -> int:
    states = [state for given in args.state for state in given]
    async with Admin(settings) as admin:
        groups = await admin.list_groups(states=states)
        if not sys.stdout.isatty():
            # Scripts read this: one name per line, as kafka-consumer-groups.sh --list prints.
            for group in groups:
                print(group.group_id)
            return EXIT_OK
        described = [await admin.describe_group(g.group_id) for g in groups]
    rows = [
        [g.group_id, g.type, g.state, str(len(g.members)), cell(g.assignor)]
        for g in described
        if g.exists  # deleted between the two requests
    ]
    if rows:
        print_table(["GROUP", "TYPE", "STATE", "MEMBERS", "PROTOCOL"], rows)
    else:
        print("no groups" if not states else f"no groups in state {', '.join(states)}", file=sys.stderr)
    return EXIT_OK


# --- describe ----------------------------------------------------------------------------


async def _describe(args: argparse.Namespace, settings: ConnectionSettings) -> int:
    async with Admin(settings) as admin:
        group = await admin.describe_group(args.group)
        if not group.exists:
            raise CliError(f"group '{args.group}' does not exist")
        if args.state:
            _print_state(group)
            return EXIT_OK
        if args.members:
            _print_members(group)
            return EXIT_OK
        committed = await admin.group_offsets(args.group)
        ends = await _end_offsets(admin, {*committed, *(tp for m in group.members for tp in m.assignment)})
    _print_offsets(group, committed, ends)
    return EXIT_OK


async def _end_offsets(admin: Admin, partitions: set[TopicPartition]) -> dict[TopicPartition, int]:
    """Log end offsets of the partitions that still exist (a group may outlive its topics)."""
    topics = await admin.describe_topics(sorted({t for t, _ in partitions}), skip_missing=True)
    existing = {(t.name, p.partition) for t in topics for p in t.partitions if p.leader >= 0}
    return await admin.list_offsets(partitions & existing, timestamp=LATEST)


def _state_note(group: GroupDescription) -> None:
    # The same notes kafka-consumer-groups prints, on stderr like Kafka's.
    if group.state == "Empty":
        print(f"Consumer group '{group.group_id}' has no active members.", file=sys.stderr)
    elif group.state in REBALANCING:
        print(f"Warning: consumer group '{group.group_id}' is rebalancing.", file=sys.stderr)


def offset_rows(
    group: GroupDescription, committed: dict[TopicPartition, CommittedOffset], ends: dict[TopicPartition, int]
) -> list[list[str]]:
    """kafka-consumer-groups --describe rows: assigned partitions with their member, then the
    committed partitions nobody owns; lag only where both offsets are known."""
    owners = {tp: member for member in group.members for tp in member.assignment}
    rows = []
    for tp in sorted({*owners, *committed}):
        member, offset, end = owners.get(tp), committed.get(tp), ends.get(tp)
        lag = end - offset.offset if offset is not None and end is not None else None
        rows.append(
            [
                group.group_id,
                tp[0],
                str(tp[1]),
                cell(offset.offset if offset else None),
                cell(end),
                cell(lag),
                cell(member.member_id if member else None),
                cell(member.host if member else None),
                cell(member.client_id if member else None),
            ]
        )
    return rows


def _print_offsets(
    group: GroupDescription, committed: dict[TopicPartition, CommittedOffset], ends: dict[TopicPartition, int]
) -> None:
    _state_note(group)
    rows = offset_rows(group, committed, ends)
    if not rows:
        print(
            f"Group '{group.group_id}' has no committed offsets and no assigned partitions.", file=sys.stderr
        )
        return
    header = ["GROUP", "TOPIC", "PARTITION", "CURRENT-OFFSET", "LOG-END-OFFSET", "LAG"]
    print_table([*header, "CONSUMER-ID", "HOST", "CLIENT-ID"], rows)
    lags = [int(row[5]) for row in rows if row[5] != MISSING]
    unknown = len(rows) - len(lags)
    suffix = f" ({unknown} partitions without a committed offset)" if unknown else ""
    print(f"Total lag: {sum(lags)}{suffix}", file=sys.stderr)


def _print_members(group: GroupDescription) -> None:
    _state_note(group)
    with_instance = any(m.group_instance_id for m in group.members)
    header = ["GROUP", "CONSUMER-ID", *(["GROUP-INSTANCE-ID"] if with_instance else [])]
    header += ["HOST", "CLIENT-ID", "#PARTITIONS", "ASSIGNMENT"]
    rows = [
        [
            group.group_id,
            m.member_id,
            *([cell(m.group_instance_id)] if with_instance else []),
            m.host,
            m.client_id,
            str(len(m.assignment)),
            _assignment(m.assignment),
        ]
        for m in sorted(group.members, key=lambda m: m.member_id)
    ]
    if rows:
        print_table(header, rows)


def _print_state(group: GroupDescription) -> None:
    _state_note(group)
    header = ["GROUP", "COORDINATOR (ID)", "ASSIGNMENT-STRATEGY", "STATE", "#MEMBERS"]
    row = [group.group_id, str(group.coordinator), cell(group.assignor), group.state, str(len(group.members))]
    print_table(header, [row])


def _assignment(partitions: Sequence[TopicPartition]) -> str:
    """``orders:0,1;payments:2``, as kafka-consumer-groups --verbose prints an assignment."""
    by_topic: dict[str, list[int]] = {}
    for topic, partition in sorted(partitions):
        by_topic.setdefault(topic, []).append(partition)
    return ";".join(f"{t}:{','.join(map(str, ps))}" for t, ps in by_topic.items()) or MISSING


# --- delete ------------------------------------------------------------------------------


async def _delete(args: argparse.Namespace, settings: ConnectionSettings) -> int:
    async with Admin(settings) as admin:
        outcome = await admin.delete_groups(args.groups)
    status = EXIT_OK
    for group_id, error in outcome.items():
        if error is None:
            print(f"Deleted group {group_id}.")
        else:
            # Each group fails on its own: one error line each.
            print(f"error: {error}", file=sys.stderr)
            status = EXIT_ERROR
    return status


async def _delete_offsets(args: argparse.Namespace, settings: ConnectionSettings) -> int:
    async with Admin(settings) as admin:
        partitions = await offset_reset.resolve(admin, args.topic)
        group = await admin.describe_group(args.group)
        if not group.exists:
            raise CliError(f"group '{args.group}' does not exist")
        outcome = await admin.delete_group_offsets(args.group, partitions)
    status = EXIT_OK
    deleted: dict[str, list[int]] = {}
    for (topic, partition), error in sorted(outcome.items()):
        if error is None:
            deleted.setdefault(topic, []).append(partition)
        else:
            print(f"error: {_offset_delete_error(args.group, topic, partition, error)}", file=sys.stderr)
            status = EXIT_ERROR
    for topic, ids in deleted.items():
        print(f"Deleted the offsets of group {args.group} for {topic} partitions {','.join(map(str, ids))}.")
    return status


def _offset_delete_error(group: str, topic: str, partition: int, error: KafkaApiError) -> str:
    if error.error_name == "GROUP_SUBSCRIBED_TO_TOPIC":
        return (
            f"group '{group}' is subscribed to topic '{topic}' (partition {partition}); "
            f"stop its consumers first ({error.error_name})"
        )
    return str(error)


def _states(text: str) -> list[str]:
    """argparse type for ``--state``: Kafka's state names in any case, comma-separated."""
    states = []
    for name in filter(None, (part.strip() for part in text.split(","))):
        if name.lower() not in STATES:
            raise argparse.ArgumentTypeError(
                f"unknown group state {name!r} (valid: {', '.join(sorted(STATES.values()))})"
            )
        states.append(STATES[name.lower()])
    return states
