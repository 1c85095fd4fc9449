"""ConsumerGroup reconcile: lag and offset resets against a real Brook broker and reference Apache Kafka,
plus the pure planning and lag arithmetic."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from brook_operator import admin
from brook_operator.api.consumergroup import ConsumerGroupStatus, OffsetReset
from brook_operator.reconcilers import groups
from harness.brook import BrookProcess
from harness.kafka import KafkaServer

Broker = BrookProcess | KafkaServer

#: The same scenarios against Brook and against reference Kafka (the behaviour must match).
BROKERS = pytest.mark.parametrize(
    "broker",
    [
        pytest.param("shared_brook", id="brook"),
        pytest.param(
            "kafka_ref", id="kafka", marks=[pytest.mark.kafka_ref, pytest.mark.xdist_group("kafka_ref")]
        ),
    ],
    indirect=True,
)


@pytest.fixture
def broker(request: pytest.FixtureRequest) -> Broker:
    value: Broker = request.getfixturevalue(request.param)
    return value


class Events:
    def __init__(self) -> None:
        self.posted: list[tuple[str, str, str]] = []

    def __call__(self, *, type_: str, reason: str, message: str) -> None:
        self.posted.append((type_, reason, message))


def _condition(status: ConsumerGroupStatus, type_: str) -> tuple[str, str]:
    found = next(c for c in status.conditions if c.type == type_)
    return found.status, found.reason


# --- pure ---


def test_lag_is_sorted_largest_first() -> None:
    lag = groups.compute_lag(
        {("a", 0): 5, ("a", 1): 0, ("b", 0): 9}, {("a", 0): 10, ("a", 1): 20, ("b", 0): 9}
    )
    assert [(p.topic, p.partition, p.lag) for p in lag] == [("a", 1, 20), ("a", 0, 5), ("b", 0, 0)]


@pytest.mark.parametrize(
    ("request_body", "expected"),
    [
        ({"strategy": "earliest"}, [2, 0]),
        ({"strategy": "latest"}, [10, 7]),
        ({"strategy": "offset", "offset": 5}, [5, 5]),
        ({"strategy": "offset", "offset": 100}, [10, 7]),
        ({"strategy": "shift", "shiftBy": -3}, [2, 3]),
        ({"strategy": "shift", "shiftBy": 5}, [9, 7]),
        ({"strategy": "datetime", "datetime": "2026-01-01T00:00:00Z"}, [4, 6]),
    ],
    ids=str,
)
def test_plan_offsets(request_body: dict[str, object], expected: list[int]) -> None:
    request = OffsetReset.model_validate({"requestId": "r", "topics": ["t"], **request_body})
    planned = groups.plan_offsets(
        request,
        committed={("t", 0): 4, ("t", 1): 6},
        earliest={("t", 0): 2, ("t", 1): 0},
        latest={("t", 0): 10, ("t", 1): 7},
        at_timestamp={("t", 0): 4, ("t", 1): 6},
    )
    assert [p.new_offset for p in planned] == expected
    assert [p.previous_offset for p in planned] == [4, 6]


def test_shift_without_a_committed_offset_fails() -> None:
    request = OffsetReset.model_validate(
        {"requestId": "r", "topics": ["t"], "strategy": "shift", "shiftBy": 1}
    )
    with pytest.raises(ValueError, match="no committed offset"):
        groups.plan_offsets(
            request, committed={}, earliest={("t", 0): 0}, latest={("t", 0): 3}, at_timestamp={}
        )


@pytest.mark.parametrize("strategy", ["datetime", "offset", "shift"])
def test_strategy_arguments_are_required(strategy: str) -> None:
    with pytest.raises(ValueError, match=f"strategy {strategy} needs"):
        OffsetReset.model_validate({"requestId": "r", "topics": ["t"], "strategy": strategy})


# --- against reference Kafka ---


async def _reconcile(
    kafka: KafkaServer, spec: dict[str, object], previous: ConsumerGroupStatus, generation: int = 1
) -> tuple[groups.Result, Events]:
    events = Events()
    result = await groups.reconcile(
        name="cg",
        generation=generation,
        spec={"clusterRef": {"name": "demo"}, **spec},
        previous=previous,
        bootstrap_servers=kafka.bootstrap,
        events=events,
    )
    return result, events


@BROKERS
async def test_group_lag_and_offset_resets(broker: Broker) -> None:
    topic, group = f"orders-{uuid.uuid4().hex[:8]}", f"billing-{uuid.uuid4().hex[:8]}"
    async with admin.KafkaAdmin(bootstrap_servers=broker.bootstrap) as kafka:
        await kafka.create_topic(name=topic, partitions=2, replication_factor=1, config={})
    producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap)
    await producer.start()
    try:
        for i in range(10):
            await producer.send_and_wait(topic, b"x", partition=i % 2)
    finally:
        await producer.stop()
    consumer = AIOKafkaConsumer(bootstrap_servers=broker.bootstrap, group_id=group, enable_auto_commit=False)
    await consumer.start()
    try:
        consumer.assign([TopicPartition(topic, 0), TopicPartition(topic, 1)])
        await consumer.commit({TopicPartition(topic, 0): 1, TopicPartition(topic, 1): 3})
    finally:
        await consumer.stop()

    spec: dict[str, object] = {"groupId": group}
    observed, _ = await _reconcile(broker, spec, ConsumerGroupStatus())
    assert _condition(observed.status, "Ready") == ("True", "Ready")
    assert observed.status.state == "Empty" and observed.status.members == 0
    assert observed.status.total_lag == 4 + 2
    assert [(p.partition, p.committed_offset, p.end_offset, p.lag) for p in observed.status.lag] == [
        (0, 1, 5, 4),
        (1, 3, 5, 2),
    ]

    dry = {"requestId": "r1", "strategy": "earliest", "topics": [topic], "dryRun": True}
    planned, events = await _reconcile(broker, {**spec, "offsetReset": dry}, observed.status, generation=2)
    assert planned.status.offset_reset is not None and planned.status.offset_reset.phase == "DryRun"
    assert [(p.partition, p.previous_offset, p.new_offset) for p in planned.status.offset_reset.offsets] == [
        (0, 1, 0),
        (1, 3, 0),
    ]
    assert _condition(planned.status, "OffsetReset") == ("True", "DryRun")
    assert planned.status.total_lag == 6, "a dry run commits nothing"

    real = {"requestId": "r2", "strategy": "latest", "topics": [topic]}
    done, events = await _reconcile(broker, {**spec, "offsetReset": real}, planned.status, generation=3)
    assert done.status.offset_reset is not None and done.status.offset_reset.phase == "Completed"
    assert _condition(done.status, "OffsetReset") == ("True", "Completed")
    assert [reason for _, reason, _ in events.posted] == ["OffsetsReset"]
    async with admin.KafkaAdmin(bootstrap_servers=broker.bootstrap) as kafka:
        assert await kafka.group_offsets(group) == {(topic, 0): 5, (topic, 1): 5}

    # The same request id again (a GitOps re-sync): nothing runs.
    again, events = await _reconcile(broker, {**spec, "offsetReset": real}, done.status, generation=3)
    assert events.posted == [] and again.status.total_lag == 0

    # A group with a member: the reset waits.
    member = AIOKafkaConsumer(
        topic, bootstrap_servers=broker.bootstrap, group_id=group, enable_auto_commit=False
    )
    await member.start()
    try:
        await member.getmany(timeout_ms=3000)
        waiting = {"requestId": "r3", "strategy": "earliest", "topics": [topic]}
        pending, events = await _reconcile(
            broker, {**spec, "offsetReset": waiting}, again.status, generation=4
        )
        assert pending.status.offset_reset is not None and pending.status.offset_reset.phase == "Pending"
        assert _condition(pending.status, "OffsetReset") == ("False", "GroupNotEmpty")
        assert pending.status.members == 1 and pending.status.state == "Stable"
        assert pending.retry_after is not None
    finally:
        await member.stop()
    async with admin.KafkaAdmin(bootstrap_servers=broker.bootstrap) as kafka:
        assert await kafka.group_offsets(group) == {(topic, 0): 5, (topic, 1): 5}, (
            "nothing reset while active"
        )
    # Once the member left, the next refresh runs the waiting request.
    resumed, _ = await _reconcile(broker, {**spec, "offsetReset": waiting}, pending.status, generation=4)
    assert resumed.status.offset_reset is not None and resumed.status.offset_reset.phase == "Completed"
    assert resumed.status.total_lag == 10


@BROKERS
async def test_reset_to_a_datetime_and_a_missing_topic(broker: Broker) -> None:
    topic, group = f"events-{uuid.uuid4().hex[:8]}", f"audit-{uuid.uuid4().hex[:8]}"
    async with admin.KafkaAdmin(bootstrap_servers=broker.bootstrap) as kafka:
        await kafka.create_topic(name=topic, partitions=1, replication_factor=1, config={})
    producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap)
    await producer.start()
    try:
        for ts in (1_000, 2_000, 3_000):
            await producer.send_and_wait(topic, b"x", partition=0, timestamp_ms=ts)
    finally:
        await producer.stop()
    at = dt.datetime.fromtimestamp(2, tz=dt.UTC).isoformat()
    reset = {"requestId": "d1", "strategy": "datetime", "datetime": at, "topics": [topic], "dryRun": True}
    result, _ = await _reconcile(broker, {"groupId": group, "offsetReset": reset}, ConsumerGroupStatus())
    assert result.status.offset_reset is not None
    assert [p.new_offset for p in result.status.offset_reset.offsets] == [1]
    missing = {"requestId": "d2", "strategy": "earliest", "topics": ["no-such-topic-here"]}
    failed, _ = await _reconcile(
        broker, {"groupId": group, "offsetReset": missing}, result.status, generation=2
    )
    assert failed.status.offset_reset is not None and failed.status.offset_reset.phase == "Failed"
    assert _condition(failed.status, "OffsetReset") == ("False", "Failed")
