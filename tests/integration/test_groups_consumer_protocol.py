"""KIP-848 consumer groups (``group.protocol=consumer``) with real clients: librdkafka and Java.

The coordinator assigns partitions (server-side ``uniform``/``range`` assignors) and members
reconcile incrementally. Members are real clients in their own processes
(`harness.group_clients.GroupMember` with ``group_protocol="consumer"``: confluent-kafka 2.16,
or kafka-clients 4.3.1 through ``harness/java/GroupMember.java``); each commits every record
before reporting it. The brokers here heartbeat every 500 ms and time sessions out after 6 s
(Kafka's defaults are 5 s and 45 s), so that crashes are noticed within a test's patience.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from confluent_kafka import Consumer
from confluent_kafka.admin import AdminClient

from harness.brook import BrookProcess, start_brook
from harness.group_clients import (
    GroupMember,
    all_consumed_once,
    committed_offsets,
    consumed_values,
    next_offsets,
    produce_values,
    read_from_own_partitions,
    resumes_exactly,
    wait_for_assignment,
    wait_until,
)
from harness.kafka_clients import create_topic

pytestmark = pytest.mark.xdist_group("consumer_protocol")

PARTITIONS = 6
CLIENTS = ["confluent", "java"]
#: Quicker than Kafka's defaults so that sessions expire within a test (see the module docstring).
FAST_GROUPS = {
    "group_consumer_heartbeat_interval_ms": "500",
    "group_consumer_min_heartbeat_interval_ms": "100",
    "group_consumer_session_timeout_ms": "6000",
    "group_consumer_min_session_timeout_ms": "1000",
    "offsets_topic_num_partitions": "3",
}


def start_fast_brook(data_dir: Path) -> BrookProcess:
    return start_brook(data_dir, **FAST_GROUPS)


@pytest.fixture(scope="module")
def fast_brook(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrookProcess]:
    with start_fast_brook(tmp_path_factory.mktemp("consumer-protocol")) as process:
        yield process


def member(
    brook: BrookProcess, client: str, group: str, topic: str, name: str, **kwargs: object
) -> GroupMember:
    return GroupMember(
        client=client,
        bootstrap=brook.bootstrap,
        group=group,
        topic=topic,
        client_id=name,
        group_protocol="consumer",
        **kwargs,  # type: ignore[arg-type]
    )


@pytest.mark.parametrize("client", CLIENTS)
def test_three_members_each_own_two_partitions_and_consume_every_message_once(
    fast_brook: BrookProcess, unique_topic: str, client: str
) -> None:
    create_topic(fast_brook.bootstrap, unique_topic, partitions=PARTITIONS)
    group = f"{unique_topic}-group"
    members = [member(fast_brook, client, group, unique_topic, f"m{i}") for i in range(3)]
    try:
        wait_for_assignment(members, [2, 2, 2], partitions=PARTITIONS)
        expected = produce_values(
            fast_brook.bootstrap, unique_topic, (f"order-{i}" for i in range(60)), partitions=PARTITIONS
        )
        all_consumed_once(members, expected)
        read_from_own_partitions(members, expected)
        assert sorted(len(m.records) for m in members) == [20, 20, 20]
    finally:
        for m in members:
            m.kill()


@pytest.mark.parametrize("client", CLIENTS)
def test_partitions_move_when_members_join_leave_and_crash(
    fast_brook: BrookProcess, unique_topic: str, client: str
) -> None:
    bootstrap = fast_brook.bootstrap
    create_topic(bootstrap, unique_topic, partitions=PARTITIONS)
    group = f"{unique_topic}-group"
    a, b = (member(fast_brook, client, group, unique_topic, n) for n in "ab")
    c: GroupMember | None = None
    try:
        wait_for_assignment([a, b], [3, 3], partitions=PARTITIONS)
        c = member(fast_brook, client, group, unique_topic, "c")
        wait_for_assignment([a, b, c], [2, 2, 2], partitions=PARTITIONS)
        # Incremental: a and b each gave up one partition and kept the others throughout.
        assert [] not in a.assignments[1:] and [] not in b.assignments[1:]
        first = produce_values(
            bootstrap, unique_topic, (f"first-{i}" for i in range(30)), partitions=PARTITIONS
        )
        all_consumed_once([a, b, c], first)
        c.stop()  # leaves the group (member epoch -1): the others get its partitions at once
        wait_for_assignment([a, b], [3, 3], partitions=PARTITIONS)
        b.kill()  # a crash: the coordinator fences b when its session times out
        wait_for_assignment([a], [6], partitions=PARTITIONS)
        second = produce_values(
            bootstrap, unique_topic, (f"second-{i}" for i in range(30)), partitions=PARTITIONS
        )
        all_consumed_once([a, b, c], first + second)
        assert {r.value for r in a.records} >= set(second)
    finally:
        for m in (a, b, c):
            if m is not None:
                m.kill()


@pytest.mark.parametrize("client", CLIENTS)
def test_a_regex_subscription_picks_up_a_new_matching_topic(
    fast_brook: BrookProcess, unique_topic: str, client: str
) -> None:
    bootstrap = fast_brook.bootstrap
    first, second = f"{unique_topic}-a", f"{unique_topic}-b"
    create_topic(bootstrap, first, partitions=2)
    create_topic(bootstrap, f"other-{unique_topic}", partitions=1)  # does not match
    pattern = f"^{unique_topic}-.*"
    with member(fast_brook, client, f"{unique_topic}-group", pattern, "m") as m:
        before = produce_values(bootstrap, first, (f"a-{i}" for i in range(10)), partitions=2)
        m.wait_for(lambda m: sorted(consumed_values([m])) == sorted(before), what="the first topic's records")
        create_topic(bootstrap, second, partitions=3)
        produce_values(bootstrap, f"other-{unique_topic}", ["not-mine"], partitions=1)
        after = produce_values(bootstrap, second, (f"b-{i}" for i in range(12)), partitions=3)
        m.wait_for(
            lambda m: sorted(consumed_values([m])) == sorted(before + after),
            what="the records of the topic created after the member joined",
        )


@pytest.mark.parametrize("client", CLIENTS)
def test_a_restarted_consumer_resumes_exactly_after_its_committed_offsets(
    fast_brook: BrookProcess, unique_topic: str, client: str
) -> None:
    bootstrap = fast_brook.bootstrap
    create_topic(bootstrap, unique_topic, partitions=PARTITIONS)
    group = f"{unique_topic}-group"
    expected = produce_values(
        bootstrap, unique_topic, (f"order-{i}" for i in range(60)), partitions=PARTITIONS
    )
    with member(fast_brook, client, group, unique_topic, "first", max_records=25) as first:
        first.wait_for(lambda m: m.closed, what="25 records, then a clean close")
    committed = committed_offsets(bootstrap, group, unique_topic, partitions=PARTITIONS)
    assert committed == next_offsets(first.records)
    with member(fast_brook, client, group, unique_topic, "second") as second:
        second.wait_for(lambda m: len(m.records) >= 35, what="the other 35 records")
    resumes_exactly(first.records, second.records, expected)


@pytest.mark.parametrize("stop", ["clean", "kill -9"])
def test_groups_and_offsets_survive_a_broker_restart(tmp_path: Path, unique_topic: str, stop: str) -> None:
    with start_fast_brook(tmp_path / "brook") as brook:
        bootstrap = brook.bootstrap
        create_topic(bootstrap, unique_topic, partitions=PARTITIONS)
        expected = produce_values(
            bootstrap, unique_topic, (f"order-{i}" for i in range(60)), partitions=PARTITIONS
        )
        stopped_group, running_group = f"{unique_topic}-stopped", f"{unique_topic}-running"
        with member(brook, "confluent", stopped_group, unique_topic, "first", max_records=25) as first:
            first.wait_for(lambda m: m.closed, what="25 records, then a clean close")
        running = [member(brook, "confluent", running_group, unique_topic, f"r{i}") for i in range(2)]
        try:
            wait_for_assignment(running, [3, 3], partitions=PARTITIONS)
            wait_until(lambda: len(consumed_values(running)) == 60, what="all 60 records")
            epoch_before = _described(bootstrap, running_group)
            if stop == "clean":
                assert brook.stop() == 0
            else:
                brook.kill()
            brook.start()
            # The group is loaded from __consumer_offsets: same state, same members.
            wait_until(
                lambda: _described(bootstrap, running_group) == epoch_before, what="the group reloaded"
            )
            more = produce_values(
                bootstrap, unique_topic, (f"later-{i}" for i in range(30)), partitions=PARTITIONS
            )
            wait_until(
                lambda: len(consumed_values(running)) >= 90, what="the records produced after the restart"
            )
            assert sorted(consumed_values(running)) == sorted(expected + more), "no record twice, none lost"
        finally:
            for m in running:
                m.kill()
        with member(brook, "java", stopped_group, unique_topic, "second") as second:
            second.wait_for(lambda m: len(m.records) >= 65, what="the 65 records the first member left")
        resumes_exactly(first.records, second.records, expected + more)


def _described(bootstrap: str, group: str) -> tuple[str, int, list[str]] | None:
    """The group as the admin client describes it (state, member count, member ids), or None."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    try:
        description = admin.describe_consumer_groups([group])[group].result(timeout=10)
    except Exception:
        return None  # still loading
    return (
        str(description.state),
        len(description.members),
        sorted(m.member_id for m in description.members),
    )


def test_a_librdkafka_consumer_in_process(fast_brook: BrookProcess, unique_topic: str) -> None:
    """A plain confluent-kafka Consumer with group.protocol=consumer and the range assignor."""
    create_topic(fast_brook.bootstrap, unique_topic, partitions=2)
    expected = produce_values(fast_brook.bootstrap, unique_topic, (f"v{i}" for i in range(10)), partitions=2)
    consumer = Consumer(
        {
            "bootstrap.servers": fast_brook.bootstrap,
            "group.id": f"{unique_topic}-group",
            "group.protocol": "consumer",
            "group.remote.assignor": "range",
            "auto.offset.reset": "earliest",
        }
    )
    consumer.subscribe([unique_topic])
    seen: list[str] = []
    deadline = time.monotonic() + 60
    try:
        while sorted(seen) != sorted(expected):
            assert time.monotonic() < deadline, f"consumed {seen}"
            message = consumer.poll(0.2)
            if message is not None and message.error() is None and message.value() is not None:
                seen.append(message.value().decode())  # type: ignore[union-attr]
        assert sorted(tp.partition for tp in consumer.assignment()) == [0, 1]
    finally:
        consumer.close()
