"""`brook groups reset-offsets`: move a group's committed offsets, with Kafka's rules.

Registered by `cli.groups`. The plan is Kafka's ``kafka-consumer-groups.sh --reset-offsets``
(`GroupOffsetsResetter`), number for number:

- ``--to-earliest`` / ``--to-latest``: the partition's log start / log end offset;
- ``--to-datetime``: ListOffsets by timestamp, the first offset at or after it; where every
  record is older, the log end offset; a time without a zone is UTC, as in Kafka;
- ``--to-offset N`` and ``--shift-by N`` (from the committed offset, which must exist) are
  clamped to the partition's [log start, log end] range.

``--topic T`` means every partition of T, ``--topic T:0,2`` those two, ``--all-topics`` every
partition the group has an offset for. The plan is printed (TOPIC PARTITION CURRENT-OFFSET
NEW-OFFSET) and, with ``--execute``, committed, which Kafka's coordinator (and Brook's) allows
only while the group has no members; we refuse before asking, with a clear message. A dry run
(the default) works on an active group too: it only reads.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import enum
import sys
from collections.abc import Mapping, Sequence

from brook_broker.cli.client import EARLIEST, LATEST, Admin, TopicPartition
from brook_broker.cli.common import EXIT_OK
from brook_broker.cli.connection import ConnectionSettings
from brook_broker.cli.errors import CliError
from brook_broker.cli.tables import cell, print_table

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


class Strategy(enum.Enum):
    EARLIEST = "to-earliest"
    LATEST = "to-latest"
    DATETIME = "to-datetime"
    OFFSET = "to-offset"
    SHIFT = "shift-by"


@dataclasses.dataclass(frozen=True, slots=True)
class TopicSpec:
    topic: str
    #: None: every partition of the topic.
    partitions: tuple[int, ...] | None


@dataclasses.dataclass(frozen=True, slots=True)
class PlannedOffset:
    topic: str
    partition: int
    current: int | None
    new: int


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("group", metavar="GROUP")
    scope = parser.add_mutually_exclusive_group(required=True)
    scope.add_argument(
        "--topic",
        type=topic_spec,
        action="append",
        metavar="TOPIC[:P,P...]",
        help="a topic, or some of its partitions (repeatable)",
    )
    scope.add_argument(
        "--all-topics", action="store_true", help="every partition the group has an offset for"
    )
    to = parser.add_mutually_exclusive_group(required=True)
    to.add_argument("--to-earliest", action="store_true", help="the first offset still in the log")
    to.add_argument("--to-latest", action="store_true", help="the log end offset: skip everything")
    to.add_argument(
        "--to-datetime", type=timestamp_ms, metavar="ISO8601", help="e.g. 2024-05-01T12:00:00.000 (UTC)"
    )
    to.add_argument("--to-offset", type=int, metavar="N", help="offset N (clamped to the log's range)")
    to.add_argument("--shift-by", type=int, metavar="N", help="move the committed offsets by N (may be < 0)")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--dry-run", action="store_true", help="print the plan only (the default)")
    mode.add_argument("--execute", action="store_true", help="commit the plan (the group must be empty)")


def strategy_of(args: argparse.Namespace) -> tuple[Strategy, int | None]:
    if args.to_earliest:
        return Strategy.EARLIEST, None
    if args.to_latest:
        return Strategy.LATEST, None
    if args.to_datetime is not None:
        return Strategy.DATETIME, args.to_datetime
    if args.to_offset is not None:
        return Strategy.OFFSET, args.to_offset
    return Strategy.SHIFT, args.shift_by


async def run(args: argparse.Namespace, settings: ConnectionSettings) -> int:
    strategy, value = strategy_of(args)
    async with Admin(settings) as admin:
        group = await admin.describe_group(args.group)
        if not group.inactive:
            activity = f"group '{args.group}' is {group.state} with {len(group.members)} member(s)"
            if args.execute:
                raise CliError(
                    f"{activity}: offsets can only be reset while it is empty; stop its consumers first"
                )
            print(f"Note: {activity}; --execute would be refused until it is empty.", file=sys.stderr)
        committed = {tp: c.offset for tp, c in (await admin.group_offsets(args.group)).items()}
        if args.all_topics:
            partitions = sorted(committed)
            if not partitions:
                raise CliError(f"group '{args.group}' has no committed offsets; name the topics with --topic")
        else:
            partitions = await resolve(admin, args.topic)
        earliest = await admin.list_offsets(partitions, timestamp=EARLIEST)
        latest = await admin.list_offsets(partitions, timestamp=LATEST)
        at_time: dict[TopicPartition, int] = {}
        if strategy == Strategy.DATETIME:
            assert value is not None
            at_time = await admin.offsets_for_time(partitions, timestamp_ms=value)
        try:
            planned = plan(
                strategy, value, committed=committed, earliest=earliest, latest=latest, at_time=at_time
            )
        except ValueError as error:
            raise CliError(str(error)) from None
        if args.execute:
            await admin.commit_group_offsets(args.group, {(p.topic, p.partition): p.new for p in planned})
    rows = [[p.topic, str(p.partition), cell(p.current), str(p.new)] for p in planned]
    print_table(["TOPIC", "PARTITION", "CURRENT-OFFSET", "NEW-OFFSET"], rows)
    if args.execute:
        print(
            f"Committed new offsets for {len(planned)} partition(s) of group {args.group}.", file=sys.stderr
        )
    else:
        print("Dry run: nothing was committed (add --execute to apply).", file=sys.stderr)
    return EXIT_OK


def plan(
    strategy: Strategy,
    value: int | None,
    *,
    committed: Mapping[TopicPartition, int],
    earliest: Mapping[TopicPartition, int],
    latest: Mapping[TopicPartition, int],
    at_time: Mapping[TopicPartition, int],
) -> list[PlannedOffset]:
    """The new offset of every partition in ``latest`` (pure: the caller fetched the offsets).

    ValueError when ``--shift-by`` meets a partition without a committed offset (Kafka refuses too).
    """
    planned = []
    for tp in sorted(latest):
        low, high = earliest[tp], latest[tp]
        if strategy == Strategy.EARLIEST:
            target = low
        elif strategy == Strategy.LATEST:
            target = high
        elif strategy == Strategy.DATETIME:
            target = at_time[tp]
        elif strategy == Strategy.OFFSET:
            assert value is not None
            target = value
        else:
            assert value is not None
            if tp not in committed:
                raise ValueError(
                    f"cannot shift the offset of {tp[0]}-{tp[1]}: the group has no committed offset there"
                )
            target = committed[tp] + value
        planned.append(PlannedOffset(tp[0], tp[1], committed.get(tp), min(max(target, low), high)))
    return planned


async def resolve(admin: Admin, specs: Sequence[TopicSpec]) -> list[TopicPartition]:
    """The partitions ``--topic`` names; an unknown topic or partition is an error."""
    topics = {t.name: t for t in await admin.describe_topics(sorted({s.topic for s in specs}))}
    partitions: set[TopicPartition] = set()
    for spec in specs:
        existing = [p.partition for p in topics[spec.topic].partitions]
        wanted = existing if spec.partitions is None else spec.partitions
        if missing := sorted(set(wanted) - set(existing)):
            raise CliError(
                f"topic '{spec.topic}' has no partition {', '.join(map(str, missing))} "
                f"(it has {len(existing)})"
            )
        partitions.update((spec.topic, p) for p in wanted)
    return sorted(partitions)


def topic_spec(text: str) -> TopicSpec:
    """argparse type for ``--topic T`` or ``--topic T:0,1`` (Kafka's syntax)."""
    topic, sep, rest = text.partition(":")
    if not topic:
        raise argparse.ArgumentTypeError(f"expected TOPIC or TOPIC:P,P..., got {text!r}")
    if not sep:
        return TopicSpec(topic, None)
    try:
        partitions = tuple(int(p) for p in rest.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected TOPIC:P,P... with partition numbers, got {text!r}"
        ) from None
    return TopicSpec(topic, partitions)


def timestamp_ms(text: str) -> int:
    """argparse type for ``--to-datetime``: ISO 8601; without a zone it is UTC (as Kafka reads it)."""
    if "T" not in text:
        raise argparse.ArgumentTypeError(
            f"expected an ISO 8601 time such as 2024-05-01T12:00:00, got {text!r}"
        )
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 time: {text!r}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    # Integer arithmetic: float seconds * 1000 can land a millisecond short.
    return (moment - _EPOCH) // dt.timedelta(milliseconds=1)
