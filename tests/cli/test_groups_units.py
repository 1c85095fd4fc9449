"""Pure pieces of `brook groups`: the reset plan (Kafka's rules), argument parsing, table rows."""

from __future__ import annotations

import argparse
import io

import pytest

from brook_broker.cli.group_client import (
    CommittedOffset,
    Coordinator,
    GroupDescription,
    MemberDescription,
    decode_assignment,
)
from brook_broker.cli.groups import offset_rows
from brook_broker.cli.offset_reset import Strategy, TopicSpec, plan, timestamp_ms, topic_spec
from brook_broker.cli.tables import print_table

EARLIEST = {("t", 0): 2, ("t", 1): 0}
LATEST = {("t", 0): 10, ("t", 1): 7}
COMMITTED = {("t", 0): 4, ("t", 1): 6}


@pytest.mark.parametrize(
    ("strategy", "value", "expected"),
    [
        (Strategy.EARLIEST, None, [2, 0]),
        (Strategy.LATEST, None, [10, 7]),
        (Strategy.OFFSET, 5, [5, 5]),
        (Strategy.OFFSET, 100, [10, 7]),  # clamped to the log end
        (Strategy.OFFSET, 0, [2, 0]),  # clamped to the log start
        (Strategy.SHIFT, -3, [2, 3]),
        (Strategy.SHIFT, 5, [9, 7]),
        (Strategy.DATETIME, 1_700_000_000_000, [4, 6]),
    ],
    ids=str,
)
def test_plan(strategy: Strategy, value: int | None, expected: list[int]) -> None:
    planned = plan(
        strategy,
        value,
        committed=COMMITTED,
        earliest=EARLIEST,
        latest=LATEST,
        at_time={("t", 0): 4, ("t", 1): 6},
    )
    assert [(p.topic, p.partition, p.current) for p in planned] == [("t", 0, 4), ("t", 1, 6)]
    assert [p.new for p in planned] == expected


def test_shift_needs_a_committed_offset() -> None:
    with pytest.raises(ValueError, match="cannot shift the offset of t-1"):
        plan(Strategy.SHIFT, 1, committed={("t", 0): 4}, earliest=EARLIEST, latest=LATEST, at_time={})


def test_topic_spec() -> None:
    assert topic_spec("orders") == TopicSpec("orders", None)
    assert topic_spec("orders:0,2") == TopicSpec("orders", (0, 2))
    for bad in ("orders:a", ":1", "orders:"):
        with pytest.raises(argparse.ArgumentTypeError):
            topic_spec(bad)


def test_datetimes_without_a_zone_are_utc_as_in_kafka() -> None:
    assert timestamp_ms("2024-05-01T12:00:00.123") == 1_714_564_800_123
    assert timestamp_ms("2024-05-01T12:00:00.123Z") == 1_714_564_800_123
    assert timestamp_ms("2024-05-01T14:00:00.123+02:00") == 1_714_564_800_123
    for bad in ("2024-05-01", "yesterday", "2024-05-01T25:00:00"):
        with pytest.raises(argparse.ArgumentTypeError):
            timestamp_ms(bad)


def test_offset_rows_like_kafka_consumer_groups() -> None:
    member = MemberDescription("m-1", None, "reader", "/10.0.0.1", (("t", 0), ("t", 1)))
    group = GroupDescription(
        "g", "classic", "Stable", "consumer", "range", (member,), Coordinator(1, "h", 9092)
    )
    committed = {("t", 0): CommittedOffset(4, "", -1), ("u", 0): CommittedOffset(3, "", -1)}
    rows = offset_rows(group, committed, {("t", 0): 10, ("t", 1): 7, ("u", 0): 3})
    assert rows == [
        ["g", "t", "0", "4", "10", "6", "m-1", "/10.0.0.1", "reader"],
        ["g", "t", "1", "-", "7", "-", "m-1", "/10.0.0.1", "reader"],  # assigned, never committed
        ["g", "u", "0", "3", "3", "0", "-", "-", "-"],  # committed, nobody owns it
    ]


def test_consumer_protocol_assignment() -> None:
    # version 1, one topic "t" with partitions 0 and 3, null user data.
    data = (
        b"\x00\x01" + b"\x00\x00\x00\x01" + b"\x00\x01t" + b"\x00\x00\x00\x02\x00\x00\x00\x00\x00\x00\x00\x03"
    )
    assert decode_assignment(data + b"\xff\xff\xff\xff") == (("t", 0), ("t", 3))
    assert decode_assignment(b"") == ()
    assert decode_assignment(b"\x00\x00\x00") == ()  # malformed: no assignment rather than a crash


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_tables_are_plain_columns_for_scripts_and_rich_on_a_terminal() -> None:
    plain = io.StringIO()
    print_table(["GROUP", "COORDINATOR (ID)"], [["g", "h:1 (1)"], ["longer-group", "-"]], out=plain)
    assert plain.getvalue() == "GROUP         COORDINATOR (ID)\ng             h:1 (1)\nlonger-group  -\n"
    terminal = _Terminal()
    print_table(["GROUP", "STATE"], [["[g]", "Stable"]], out=terminal)
    assert "[g]" in terminal.getvalue() and "Stable" in terminal.getvalue()  # markup is not interpreted
