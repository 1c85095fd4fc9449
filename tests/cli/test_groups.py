"""`brook groups` and `brook consume --group` against a real broker, with real group members.

The member is `harness.group_clients.GroupMember` (librdkafka in its own process) that reads
some records, commits each, and then holds its partitions without reading on (``pause_after``):
a live group with lag; a librdkafka consumer of the server-side protocol (KIP-848) makes a
``consumer``-type group. Numbers are checked against what the member committed and, where it
is cheap, against Apache Kafka's own ``kafka-consumer-groups`` run on the same broker (those
tests carry the ``kafka_ref`` marker: a JVM per run).
"""

from __future__ import annotations

import datetime as dt
import io
import re
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition

from brook_broker.cli.main import main
from harness import run_kafka_tool
from harness.brook import BrookProcess
from harness.group_clients import GroupMember, produce_values
from harness.kafka_clients import create_topic

#: The `brook_cli` fixture (tests/cli/conftest.py): runs ``brook ARGS`` against the shared broker.
BrookCli = Callable[..., Any]

TOOL_TIMEOUT_S = 120.0
PARTITIONS = 2
RECORDS = 20  # 10 per partition


def table(stdout: str) -> list[dict[str, str]]:
    """Rows of a plain table (columns are at least two spaces apart; values may hold one)."""
    lines = [line for line in stdout.splitlines() if line.strip()]
    header = re.split(r" {2,}", lines[0].strip())
    return [dict(zip(header, re.split(r" {2,}", line.strip()), strict=True)) for line in lines[1:]]


def committed_by_member(member: GroupMember) -> dict[int, int]:
    """The member's committed offset per partition: one past the last record it reported."""
    offsets: dict[int, int] = {}
    for record in member.records:
        offsets[record.partition] = max(offsets.get(record.partition, 0), record.offset + 1)
    return offsets


@pytest.fixture
def filled_topic(shared_brook: BrookProcess, unique_topic: str) -> str:
    create_topic(shared_brook.bootstrap, unique_topic, partitions=PARTITIONS)
    produce_values(
        shared_brook.bootstrap, unique_topic, (f"v{i}" for i in range(RECORDS)), partitions=PARTITIONS
    )
    return unique_topic


@pytest.fixture
def active_member(shared_brook: BrookProcess, filled_topic: str) -> Iterator[GroupMember]:
    """A member of group ``<topic>-g`` that committed 6 records and holds both partitions."""
    member = GroupMember(
        client="confluent",
        bootstrap=shared_brook.bootstrap,
        group=f"{filled_topic}-g",
        topic=filled_topic,
        client_id="cli-reader",
        pause_after=6,
    )
    with member:
        member.wait_for(lambda m: m.paused, what="6 records, then a pause")
        yield member


def test_describe_an_active_group_shows_its_member_and_lag(
    brook_cli: BrookCli, active_member: GroupMember, filled_topic: str
) -> None:
    group = f"{filled_topic}-g"
    committed = committed_by_member(active_member)
    described = brook_cli("groups", "describe", group)
    assert described.code == 0, described.stderr
    rows = table(described.stdout)
    assert [(r["TOPIC"], r["PARTITION"]) for r in rows] == [(filled_topic, "0"), (filled_topic, "1")]
    for row in rows:
        partition = int(row["PARTITION"])
        current = committed.get(partition)
        assert row["CURRENT-OFFSET"] == (str(current) if current is not None else "-")
        assert row["LOG-END-OFFSET"] == "10"
        assert row["LAG"] == (str(10 - current) if current is not None else "-")
        assert row["CONSUMER-ID"].startswith("cli-reader-")
        assert (row["HOST"], row["CLIENT-ID"]) == ("/127.0.0.1", "cli-reader")
    total = sum(10 - c for c in committed.values())
    missing = PARTITIONS - len(committed)
    suffix = f" ({missing} partitions without a committed offset)" if missing else ""
    assert described.stderr_lines == [f"Total lag: {total}{suffix}"]

    members = brook_cli("groups", "describe", group, "--members")
    assert members.code == 0, members.stderr
    [member] = table(members.stdout)
    assert member["CONSUMER-ID"] == rows[0]["CONSUMER-ID"]
    assert (member["#PARTITIONS"], member["ASSIGNMENT"]) == ("2", f"{filled_topic}:0,1")

    state = brook_cli("groups", "describe", group, "--state")
    assert state.code == 0, state.stderr
    [row] = table(state.stdout)
    assert (row["ASSIGNMENT-STRATEGY"], row["STATE"], row["#MEMBERS"]) == ("range", "Stable", "1")
    assert row["COORDINATOR (ID)"].endswith("(1)")


def test_list_filters_by_state(brook_cli: BrookCli, active_member: GroupMember, filled_topic: str) -> None:
    group = f"{filled_topic}-g"
    assert group in brook_cli("groups", "list").stdout.splitlines()
    assert group in brook_cli("groups", "list", "--state", "stable").stdout.splitlines()
    assert group not in brook_cli("groups", "list", "--state", "Empty,Dead").stdout.splitlines()
    bad = brook_cli("groups", "list", "--state", "Sleeping")
    assert bad.code == 2 and "unknown group state 'Sleeping'" in bad.stderr


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_list_on_a_terminal_shows_type_state_members_and_protocol(
    shared_brook: BrookProcess,
    active_member: GroupMember,
    filled_topic: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    terminal = _Terminal()
    monkeypatch.setattr(sys, "stdout", terminal)
    monkeypatch.setenv("COLUMNS", "300")  # rich would shorten long group names to fit 80 columns
    assert main(["groups", "list", "--bootstrap-server", shared_brook.bootstrap]) == 0
    text = re.sub(r"\x1b\[[0-9;]*m", "", terminal.getvalue())
    assert text.split()[:5] == ["GROUP", "TYPE", "STATE", "MEMBERS", "PROTOCOL"]
    [line] = [line for line in text.splitlines() if line.startswith(f"{filled_topic}-g ")]
    assert line.split() == [f"{filled_topic}-g", "classic", "Stable", "1", "range"]


def test_reset_is_refused_while_the_group_is_active_and_applied_once_it_is_empty(
    brook_cli: BrookCli, shared_brook: BrookProcess, active_member: GroupMember, filled_topic: str
) -> None:
    group = f"{filled_topic}-g"
    refused = brook_cli(
        "groups", "reset-offsets", group, "--topic", filled_topic, "--to-offset", "2", "--execute"
    )
    assert refused.code == 1
    assert refused.stderr_lines == [
        f"error: group '{group}' is Stable with 1 member(s): offsets can only be reset while it is empty; "
        "stop its consumers first"
    ]
    dry = brook_cli("groups", "reset-offsets", group, "--topic", filled_topic, "--to-offset", "2")
    assert dry.code == 0 and "--execute would be refused" in dry.stderr
    assert [r["NEW-OFFSET"] for r in table(dry.stdout)] == ["2", "2"]

    deleting = brook_cli("groups", "delete", group)
    assert (deleting.code, deleting.stderr_lines) == (
        1,
        [f"error: group '{group}' still has members; stop its consumers first (NON_EMPTY_GROUP)"],
    )
    subscribed = brook_cli("groups", "delete-offsets", group, "--topic", f"{filled_topic}:0")
    assert subscribed.code == 1 and "(GROUP_SUBSCRIBED_TO_TOPIC)" in subscribed.stderr

    active_member.stop()  # LeaveGroup: the group is Empty now
    applied = brook_cli(
        "groups", "reset-offsets", group, "--topic", filled_topic, "--to-offset", "2", "--execute"
    )
    assert applied.code == 0, applied.stderr
    assert [(r["PARTITION"], r["NEW-OFFSET"]) for r in table(applied.stdout)] == [("0", "2"), ("1", "2")]
    # The next member of the group starts at the new offsets: 8 records left in each partition.
    with GroupMember(
        client="confluent", bootstrap=shared_brook.bootstrap, group=group, topic=filled_topic, max_records=16
    ) as next_member:
        next_member.wait_for(lambda m: m.closed, what="16 records")
    assert sorted((r.partition, r.offset) for r in next_member.records) == [
        (p, o) for p in range(PARTITIONS) for o in range(2, 10)
    ]

    deleted_offsets = brook_cli("groups", "delete-offsets", group, "--topic", f"{filled_topic}:0")
    assert deleted_offsets.code == 0, deleted_offsets.stderr
    assert (
        deleted_offsets.stdout.strip()
        == f"Deleted the offsets of group {group} for {filled_topic} partitions 0."
    )
    rows = table(brook_cli("groups", "describe", group).stdout)
    assert [(r["PARTITION"], r["CURRENT-OFFSET"]) for r in rows] == [("1", "10")]

    deleted = brook_cli("groups", "delete", group)
    assert (deleted.code, deleted.stdout.strip()) == (0, f"Deleted group {group}.")
    gone = brook_cli("groups", "describe", group)
    assert (gone.code, gone.stderr_lines) == (1, [f"error: group '{group}' does not exist"])


def test_consume_with_a_group_commits_and_the_next_run_resumes(
    brook_cli: BrookCli, shared_brook: BrookProcess, unique_topic: str
) -> None:
    create_topic(shared_brook.bootstrap, unique_topic)
    values = produce_values(shared_brook.bootstrap, unique_topic, (f"m{i}" for i in range(10)), partitions=1)
    group = f"{unique_topic}-console"
    first = brook_cli("consume", unique_topic, "--group", group, "--from-beginning", "--max-messages", "4")
    assert (first.code, first.stdout.splitlines()) == (0, values[:4]), first.stderr
    # No --from-beginning needed: the group's committed offset decides where the next run starts.
    second = brook_cli(
        "consume", unique_topic, "--group", group, "--max-messages", "6", "--timeout-ms", "30000"
    )
    assert (second.code, second.stdout.splitlines()) == (0, values[4:]), second.stderr
    [row] = table(brook_cli("groups", "describe", group).stdout)
    assert (row["CURRENT-OFFSET"], row["LOG-END-OFFSET"], row["LAG"]) == ("10", "10", "0")
    misuse = brook_cli("consume", unique_topic, "--group", group, "--partition", "0")
    assert (misuse.code, misuse.stderr_lines) == (
        2,
        ["error: --group cannot be combined with --partition or a numeric --offset"],
    )


def test_errors_are_one_line(brook_cli: BrookCli, filled_topic: str) -> None:
    group = f"{filled_topic}-none"
    cases = {
        ("groups", "describe", group): f"error: group '{group}' does not exist",
        ("groups", "delete", group): f"error: group '{group}' does not exist (GROUP_ID_NOT_FOUND)",
        ("groups", "reset-offsets", group, "--topic", f"{filled_topic}:7", "--to-earliest"): (
            f"error: topic '{filled_topic}' has no partition 7 (it has 2)"
        ),
        ("groups", "reset-offsets", group, "--topic", filled_topic, "--shift-by", "1"): (
            f"error: cannot shift the offset of {filled_topic}-0: the group has no committed offset there"
        ),
        ("groups", "reset-offsets", group, "--all-topics", "--to-latest"): (
            f"error: group '{group}' has no committed offsets; name the topics with --topic"
        ),
    }
    for args, line in cases.items():
        result = brook_cli(*args)
        assert (result.code, result.stderr_lines) == (1, [line]), args
    usage = brook_cli("groups", "reset-offsets", group, "--topic", filled_topic, "--to-datetime", "yesterday")
    assert usage.code == 2 and "ISO 8601" in usage.stderr


# --- the plan, number for number with kafka-consumer-groups ----------------------------------


def _produce_timed(bootstrap: str, topic: str, base_ms: int) -> None:
    """10 records per partition, record i of a partition at ``base_ms + i * 1000``."""
    producer = Producer({"bootstrap.servers": bootstrap, "acks": "all"})
    for partition in range(PARTITIONS):
        for i in range(10):
            producer.produce(
                topic, value=f"{partition}-{i}".encode(), partition=partition, timestamp=base_ms + i * 1000
            )
    assert producer.flush(30) == 0


def _kafka_plan(bootstrap: str, group: str, topic: str, strategy: list[str]) -> dict[tuple[str, str], str]:
    result = run_kafka_tool(
        "kafka-consumer-groups",
        [
            "--bootstrap-server",
            bootstrap,
            "--group",
            group,
            "--reset-offsets",
            "--topic",
            topic,
            *strategy,
            "--dry-run",
        ],
        timeout=TOOL_TIMEOUT_S,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    lines = [line.split() for line in result.stdout.splitlines() if line.strip()]
    start = next(i for i, line in enumerate(lines) if line == ["GROUP", "TOPIC", "PARTITION", "NEW-OFFSET"])
    return {(t, p): offset for _, t, p, offset in lines[start + 1 :]}


@pytest.mark.kafka_ref
def test_reset_plans_match_kafka_consumer_groups(
    brook_cli: BrookCli, shared_brook: BrookProcess, unique_topic: str
) -> None:
    create_topic(shared_brook.bootstrap, unique_topic, partitions=PARTITIONS)
    base_ms = int(time.time() * 1000) - 3_600_000
    _produce_timed(shared_brook.bootstrap, unique_topic, base_ms)
    group = f"{unique_topic}-g"
    with GroupMember(
        client="confluent", bootstrap=shared_brook.bootstrap, group=group, topic=unique_topic, max_records=12
    ) as member:
        member.wait_for(lambda m: m.closed, what="12 records, then a clean close")
    # Partition 0 loses its first 3 records: earliest is 3 there, and --shift-by clamps to it.
    deleted = run_kafka_tool(
        "kafka-delete-records",
        ["--bootstrap-server", shared_brook.bootstrap, "--offset-json-file", "/dev/stdin"],
        stdin=f'{{"partitions": [{{"topic": "{unique_topic}", "partition": 0, "offset": 3}}], "version": 1}}',
        timeout=TOOL_TIMEOUT_S,
    )
    assert deleted.returncode == 0, deleted.stdout + deleted.stderr

    def iso(ms: int) -> str:
        return dt.datetime.fromtimestamp(ms / 1000, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3]

    strategies = [
        ["--to-earliest"],
        ["--to-latest"],
        ["--to-offset", "5"],
        ["--to-offset", "1000"],
        ["--shift-by", "-8"],
        ["--shift-by", "3"],
        ["--to-datetime", iso(base_ms + 4500)],
        ["--to-datetime", iso(base_ms + 3_600_000 * 2)],  # after every record: the log end
    ]
    for strategy in strategies:
        ours = brook_cli("groups", "reset-offsets", group, "--topic", unique_topic, *strategy, "--dry-run")
        assert ours.code == 0, (strategy, ours.stderr)
        plan = {(r["TOPIC"], r["PARTITION"]): r["NEW-OFFSET"] for r in table(ours.stdout)}
        assert plan == _kafka_plan(shared_brook.bootstrap, group, unique_topic, strategy), strategy


def test_a_kip848_consumer_group(
    brook_cli: BrookCli, shared_brook: BrookProcess, filled_topic: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A group of the server-side protocol (ConsumerGroupHeartbeat): described with
    ConsumerGroupDescribe, listed with type "consumer", reset only once its member has left."""
    group = f"{filled_topic}-848"
    assigned: list[int] = []
    consumer = Consumer(
        {
            "bootstrap.servers": shared_brook.bootstrap,
            "group.id": group,
            "group.protocol": "consumer",
            "client.id": "kip848",
            "enable.auto.commit": False,
        }
    )
    try:
        consumer.subscribe([filled_topic], on_assign=lambda _c, ps: assigned.extend(p.partition for p in ps))
        deadline = time.monotonic() + 60
        while sorted(assigned) != [0, 1]:
            assert time.monotonic() < deadline, f"no assignment: {assigned}"
            consumer.poll(0.2)
        consumer.commit(offsets=[TopicPartition(filled_topic, 0, 4)], asynchronous=False)

        rows = table(brook_cli("groups", "describe", group).stdout)
        assert [(r["PARTITION"], r["CURRENT-OFFSET"], r["LAG"], r["CLIENT-ID"]) for r in rows] == [
            ("0", "4", "6", "kip848"),
            ("1", "-", "-", "kip848"),
        ]
        [state] = table(brook_cli("groups", "describe", group, "--state").stdout)
        assert (state["STATE"], state["#MEMBERS"], state["ASSIGNMENT-STRATEGY"]) == ("Stable", "1", "uniform")
        terminal = _Terminal()
        monkeypatch.setattr(sys, "stdout", terminal)
        monkeypatch.setenv("COLUMNS", "300")
        assert main(["groups", "list", "--bootstrap-server", shared_brook.bootstrap]) == 0
        text = re.sub(r"\x1b\[[0-9;]*m", "", terminal.getvalue())
        [line] = [line for line in text.splitlines() if line.startswith(f"{group} ")]
        assert line.split() == [group, "consumer", "Stable", "1", "uniform"]
        refused = brook_cli("groups", "reset-offsets", group, "--all-topics", "--to-earliest", "--execute")
        assert refused.code == 1 and "is Stable with 1 member(s)" in refused.stderr
    finally:
        consumer.close()
    applied = brook_cli("groups", "reset-offsets", group, "--all-topics", "--to-earliest", "--execute")
    assert applied.code == 0, applied.stderr
    assert [(r["PARTITION"], r["NEW-OFFSET"]) for r in table(applied.stdout)] == [("0", "0")]
