"""Apache Kafka's own group tools against Brook: the console consumer in a group, and
``kafka-consumer-groups --list/--describe`` (the lag report of the seeds).

The tools come from the reference jars (`harness.run_kafka_tool`); each run is a JVM, so
these tests carry the ``kafka_ref`` marker (``-m "not kafka_ref"`` skips them).
"""

from __future__ import annotations

import pytest

from harness import run_kafka_tool
from harness.brook import BrookProcess
from harness.group_clients import GroupMember, produce_values
from harness.kafka_clients import create_topic

pytestmark = [pytest.mark.kafka_ref]

TOOL_TIMEOUT_S = 120.0


def _console_consumer(bootstrap: str, topic: str, group: str, count: int) -> list[str]:
    result = run_kafka_tool(
        "kafka-console-consumer",
        [
            "--bootstrap-server", bootstrap, "--topic", topic, "--group", group, "--from-beginning",
            "--max-messages", str(count), "--timeout-ms", "60000",
            # One record per poll: the position committed on close is exactly after what was printed.
            "--command-property", "max.poll.records=1",
        ],
        timeout=TOOL_TIMEOUT_S,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return result.stdout.splitlines()


def _describe(bootstrap: str, group: str) -> list[dict[str, str]]:
    """The rows of ``kafka-consumer-groups --describe``, as dicts keyed by the header's columns."""
    result = run_kafka_tool(
        "kafka-consumer-groups",
        ["--bootstrap-server", bootstrap, "--describe", "--group", group],
        timeout=TOOL_TIMEOUT_S,
    )
    assert result.returncode == 0, result.stderr
    lines = [line.split() for line in result.stdout.splitlines() if line.strip()]
    header_index = next(i for i, line in enumerate(lines) if line[:2] == ["GROUP", "TOPIC"])
    header = lines[header_index]
    return [dict(zip(header, row, strict=True)) for row in lines[header_index + 1 :]]


def test_console_consumer_in_a_group_resumes_after_its_committed_offset(
    shared_brook: BrookProcess, unique_topic: str
) -> None:
    bootstrap = shared_brook.bootstrap
    create_topic(bootstrap, unique_topic)
    expected = produce_values(bootstrap, unique_topic, (f"message-{i}" for i in range(20)), partitions=1)
    group = f"{unique_topic}-console"
    assert _console_consumer(bootstrap, unique_topic, group, 10) == expected[:10]
    assert _console_consumer(bootstrap, unique_topic, group, 10) == expected[10:]


def test_consumer_groups_tool_lists_groups_and_reports_lag(
    shared_brook: BrookProcess, unique_topic: str
) -> None:
    bootstrap = shared_brook.bootstrap
    create_topic(bootstrap, unique_topic, partitions=2)
    produce_values(bootstrap, unique_topic, (f"v{i}" for i in range(20)), partitions=2)
    idle, active = f"{unique_topic}-idle", f"{unique_topic}-active"
    with GroupMember(
        client="confluent", bootstrap=bootstrap, group=idle, topic=unique_topic, max_records=6
    ) as member:
        member.wait_for(lambda m: m.closed, what="6 records, then a clean close")
    consumed = {p: sum(1 for r in member.records if r.partition == p) for p in (0, 1)}

    # A group without members is described from its committed offsets alone.
    rows = _describe(bootstrap, idle)
    committed = {p: n for p, n in consumed.items() if n}
    assert {int(r["PARTITION"]) for r in rows} == set(committed)
    for row in rows:
        partition = int(row["PARTITION"])
        assert (row["TOPIC"], row["CURRENT-OFFSET"], row["LOG-END-OFFSET"], row["LAG"]) == (
            unique_topic,
            str(committed[partition]),
            "10",
            str(10 - committed[partition]),
        )
        assert row["CONSUMER-ID"] == "-", "nobody is consuming"

    with GroupMember(
        client="confluent", bootstrap=bootstrap, group=active, topic=unique_topic, client_id="lag-reader"
    ) as reader:
        reader.wait_for(lambda m: len(m.records) == 20, what="all 20 records")
        rows = _describe(bootstrap, active)
        assert [(r["CURRENT-OFFSET"], r["LAG"]) for r in rows] == [("10", "0"), ("10", "0")]
        assert {r["CLIENT-ID"] for r in rows} == {"lag-reader"}
        assert {r["HOST"] for r in rows} == {"/127.0.0.1"}
        assert all(r["CONSUMER-ID"].startswith("lag-reader-") for r in rows)

        listed = run_kafka_tool(
            "kafka-consumer-groups", ["--bootstrap-server", bootstrap, "--list"], timeout=TOOL_TIMEOUT_S
        )
        assert listed.returncode == 0, listed.stderr
        assert {idle, active} <= set(listed.stdout.split())
