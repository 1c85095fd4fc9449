"""Committed offsets with real clients: resume where the group left off, across consumer and broker restarts.

The seeds' crash scenario: a consumer commits as it goes, stops (or its broker does), and the
next consumer of the group starts exactly after the last committed offset — nothing lost,
nothing read twice. Offsets and group metadata live in ``__consumer_offsets``, so they
survive a clean broker restart and a ``kill -9`` (the partitions are replayed at startup).
"""

from __future__ import annotations

import pytest
from confluent_kafka.admin import AdminClient

from harness.brook import BrookProcess
from harness.group_clients import (
    GroupMember,
    committed_offsets,
    consumed_values,
    next_offsets,
    produce_values,
    resumes_exactly,
    wait_for_assignment,
    wait_until,
)
from harness.kafka_clients import create_topic

PARTITIONS = 3
CLIENTS = ["confluent", "aiokafka", "kafka-python", "java"]


@pytest.mark.parametrize("client", CLIENTS)
def test_a_restarted_consumer_resumes_exactly_after_its_committed_offsets(
    shared_brook: BrookProcess, unique_topic: str, client: str
) -> None:
    bootstrap = shared_brook.bootstrap
    create_topic(bootstrap, unique_topic, partitions=PARTITIONS)
    group = f"{unique_topic}-group"
    expected = produce_values(
        bootstrap, unique_topic, (f"order-{i}" for i in range(60)), partitions=PARTITIONS
    )
    with GroupMember(
        client=client, bootstrap=bootstrap, group=group, topic=unique_topic, max_records=25
    ) as first:
        first.wait_for(lambda m: m.closed, what="25 records, then a clean close")
    assert len(first.records) == 25
    committed = committed_offsets(bootstrap, group, unique_topic, partitions=PARTITIONS)
    assert committed == next_offsets(first.records)
    with GroupMember(client=client, bootstrap=bootstrap, group=group, topic=unique_topic) as second:
        second.wait_for(lambda m: len(m.records) >= 35, what="the other 35 records")
    resumes_exactly(first.records, second.records, expected)


@pytest.mark.parametrize("stop", ["clean", "kill -9"])
def test_offsets_and_groups_survive_a_broker_restart(
    brook: BrookProcess, unique_topic: str, stop: str
) -> None:
    bootstrap = brook.bootstrap
    create_topic(bootstrap, unique_topic, partitions=PARTITIONS)
    expected = produce_values(
        bootstrap, unique_topic, (f"order-{i}" for i in range(60)), partitions=PARTITIONS
    )
    # One group stops before the restart (its offsets must survive), one stays up across it.
    stopped_group, running_group = f"{unique_topic}-stopped", f"{unique_topic}-running"
    with GroupMember(
        client="confluent", bootstrap=bootstrap, group=stopped_group, topic=unique_topic, max_records=25
    ) as first:
        first.wait_for(lambda m: m.closed, what="25 records, then a clean close")
    running = GroupMember(client="confluent", bootstrap=bootstrap, group=running_group, topic=unique_topic)
    try:
        running.wait_for(lambda m: len(m.records) == 60, what="all 60 records")
        committed_before = committed_offsets(bootstrap, stopped_group, unique_topic, partitions=PARTITIONS)
        if stop == "clean":
            assert brook.stop() == 0
        else:
            brook.kill()
        brook.start()

        admin = AdminClient({"bootstrap.servers": bootstrap})
        wait_until(
            lambda: (
                {g.group_id for g in admin.list_consumer_groups().result(timeout=30).valid}
                >= {stopped_group, running_group}
            ),
            what="both groups listed after the restart",
        )
        committed_after = committed_offsets(bootstrap, stopped_group, unique_topic, partitions=PARTITIONS)
        assert committed_after == committed_before
        # The member that stayed up carries on from its committed offsets: no record twice.
        more = produce_values(
            bootstrap, unique_topic, (f"later-{i}" for i in range(30)), partitions=PARTITIONS
        )
        running.wait_for(lambda m: len(m.records) >= 90, what="the 30 records produced after the restart")
        assert sorted(consumed_values([running])) == sorted(expected + more)
    finally:
        running.kill()
    with GroupMember(
        client="aiokafka", bootstrap=bootstrap, group=stopped_group, topic=unique_topic
    ) as second:
        second.wait_for(lambda m: len(m.records) >= 65, what="the 65 records the first member left")
    resumes_exactly(first.records, second.records, expected + more)


def test_members_of_a_loaded_group_carry_on_without_a_rebalance(
    brook: BrookProcess, unique_topic: str
) -> None:
    """After a restart the group comes back Stable with its members, who just carry on.

    The members' session (30 s, Kafka's default is 45 s) restarts when the group is loaded; a
    member that reconnects within it keeps its generation and partitions.
    """
    bootstrap = brook.bootstrap
    create_topic(bootstrap, unique_topic, partitions=PARTITIONS)
    group = f"{unique_topic}-group"
    members = [
        GroupMember(
            client="kafka-python",
            bootstrap=bootstrap,
            group=group,
            topic=unique_topic,
            client_id=f"m{i}",
            session_ms=30_000,
        )
        for i in range(2)
    ]
    try:
        wait_for_assignment(members, [1, 2], partitions=PARTITIONS)
        history = [list(m.assignments) for m in members]
        assert brook.stop() == 0
        brook.start()
        expected = produce_values(
            bootstrap, unique_topic, (f"v{i}" for i in range(30)), partitions=PARTITIONS
        )
        wait_until(lambda: sorted(consumed_values(members)) == sorted(expected), what="all 30 records")
        assert [m.assignments for m in members] == history, "no member was rebalanced"
    finally:
        for member in members:
            member.kill()
