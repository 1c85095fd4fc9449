"""Topic reconcile against a real Brook broker: create, adopt, grow, config, drift, refusals, delete."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from brook_operator import admin
from brook_operator.api.topic import TopicStatus
from brook_operator.reconcilers import topics
from harness.brook import BrookProcess

pytestmark = pytest.mark.xdist_group("operator-brook")


class Events:
    def __init__(self) -> None:
        self.posted: list[tuple[str, str, str]] = []

    def __call__(self, *, type_: str, reason: str, message: str) -> None:
        self.posted.append((type_, reason, message))

    @property
    def reasons(self) -> list[str]:
        return [reason for _, reason, _ in self.posted]


def _ready(status: TopicStatus) -> tuple[str, str]:
    ready = next(c for c in status.conditions if c.type == "Ready")
    return ready.status, ready.reason


async def _reconcile(
    brook: BrookProcess,
    spec: dict[str, Any],
    previous: TopicStatus | None = None,
    *,
    generation: int = 1,
    resync: bool = False,
    name: str = "t",
) -> tuple[topics.Result, Events]:
    events = Events()
    result = await topics.reconcile(
        name=name,
        generation=generation,
        spec={"clusterRef": {"name": "demo"}, **spec},
        previous=previous or TopicStatus(),
        bootstrap_servers=brook.bootstrap,
        events=events,
        resync=resync,
    )
    return result, events


async def test_create_then_noop_then_grow_and_configure(
    shared_brook: BrookProcess, unique_topic: str
) -> None:
    result, events = await _reconcile(
        shared_brook, {"topicName": unique_topic, "partitions": 2, "config": {"retention.ms": 3600000}}
    )
    assert _ready(result.status) == ("True", "Ready")
    assert result.status.topic_name == unique_topic and result.status.partitions == 2
    assert "Created" in events.reasons
    async with admin.KafkaAdmin(bootstrap_servers=shared_brook.bootstrap) as kafka:
        assert (await kafka.describe_topic(unique_topic)) == admin.TopicDescription(unique_topic, 2, 1)
        assert (await kafka.describe_topic_config(unique_topic))["retention.ms"].value == "3600000"
    # Same spec again: nothing to do, no events.
    again, events = await _reconcile(
        shared_brook,
        {"topicName": unique_topic, "partitions": 2, "config": {"retention.ms": 3600000}},
        result.status,
    )
    assert events.posted == []
    assert again.status.conditions == result.status.conditions, "lastTransitionTime is kept"
    # Grow and change config in a new generation.
    grown, events = await _reconcile(
        shared_brook,
        {"topicName": unique_topic, "partitions": 4, "config": {"cleanup.policy": "compact"}},
        again.status,
        generation=2,
    )
    assert _ready(grown.status) == ("True", "Ready") and grown.status.partitions == 4
    assert {"PartitionsAdded", "ConfigUpdated"} <= set(events.reasons)
    assert grown.status.last_drift is None, "a spec change is not drift"
    async with admin.KafkaAdmin(bootstrap_servers=shared_brook.bootstrap) as kafka:
        config = await kafka.describe_topic_config(unique_topic)
        assert config["cleanup.policy"].value == "compact" and config["cleanup.policy"].set_on_topic
        assert not config["retention.ms"].set_on_topic, "a key removed from the spec goes back to the default"


async def test_adopts_an_existing_topic(shared_brook: BrookProcess, unique_topic: str) -> None:
    async with admin.KafkaAdmin(bootstrap_servers=shared_brook.bootstrap) as kafka:
        assert await kafka.create_topic(name=unique_topic, partitions=3, replication_factor=1, config={})
    result, events = await _reconcile(shared_brook, {"topicName": unique_topic, "partitions": 3})
    assert _ready(result.status) == ("True", "Ready")
    assert "Adopted" in events.reasons and "Created" not in events.reasons


async def test_partition_decrease_and_rf_change_are_not_supported(
    shared_brook: BrookProcess, unique_topic: str
) -> None:
    result, _ = await _reconcile(shared_brook, {"topicName": unique_topic, "partitions": 3})
    smaller, events = await _reconcile(
        shared_brook, {"topicName": unique_topic, "partitions": 1}, result.status, generation=2
    )
    assert _ready(smaller.status) == ("False", "NotSupported")
    stalled = next(c for c in smaller.status.conditions if c.type == "Stalled")
    assert stalled.status == "True" and "decreasing partitions (3 -> 1)" in stalled.message
    assert ("Warning", "NotSupported") in [(t, r) for t, r, _ in events.posted]
    rf, _ = await _reconcile(
        shared_brook,
        {"topicName": unique_topic, "partitions": 3, "replicationFactor": 3},
        result.status,
        generation=3,
    )
    assert _ready(rf.status) == ("False", "NotSupported")
    assert "replication factor (1 -> 3)" in next(c for c in rf.status.conditions if c.type == "Ready").message
    # Back to a supported spec: Ready again, Stalled cleared.
    back, _ = await _reconcile(
        shared_brook, {"topicName": unique_topic, "partitions": 3}, rf.status, generation=4
    )
    assert _ready(back.status) == ("True", "Ready")
    assert next(c for c in back.status.conditions if c.type == "Stalled").status == "False"


async def test_resync_reverts_out_of_band_changes(shared_brook: BrookProcess, unique_topic: str) -> None:
    spec = {"topicName": unique_topic, "partitions": 1, "config": {"retention.ms": 60000}}
    result, _ = await _reconcile(shared_brook, spec)
    async with admin.KafkaAdmin(bootstrap_servers=shared_brook.bootstrap) as kafka:
        await kafka.alter_topic_config(
            name=unique_topic, set_values={"retention.ms": "1", "segment.ms": "5000"}, delete=[]
        )
    resynced, events = await _reconcile(shared_brook, spec, result.status, resync=True)
    assert _ready(resynced.status) == ("True", "Ready")
    assert resynced.status.last_drift is not None
    assert {(d.field, d.kafka_value, d.spec_value) for d in resynced.status.last_drift.changes} == {
        ("retention.ms", "1", "60000"),
        ("segment.ms", "5000", None),
    }
    assert "DriftReverted" in events.reasons
    async with admin.KafkaAdmin(bootstrap_servers=shared_brook.bootstrap) as kafka:
        config = await kafka.describe_topic_config(unique_topic)
    assert config["retention.ms"].value == "60000" and not config["segment.ms"].set_on_topic


async def test_delete(shared_brook: BrookProcess, unique_topic: str) -> None:
    await _reconcile(shared_brook, {"topicName": unique_topic})
    events = Events()
    await topics.delete(topic=unique_topic, bootstrap_servers=shared_brook.bootstrap, events=events)
    async with admin.KafkaAdmin(bootstrap_servers=shared_brook.bootstrap) as kafka:
        assert await kafka.describe_topic(unique_topic) is None, "describing does not auto-create it again"
    await topics.delete(topic=unique_topic, bootstrap_servers=shared_brook.bootstrap, events=events)
    assert events.posted[-1][2].endswith("was already gone")


async def test_unreachable_kafka_is_reported_and_retried() -> None:
    events = Events()
    result = await topics.reconcile(
        name="t",
        generation=1,
        spec={"clusterRef": {"name": "demo"}},
        previous=TopicStatus(),
        bootstrap_servers="127.0.0.1:1",
        events=events,
        resync=False,
    )
    assert _ready(result.status) == ("False", "KafkaUnreachable")
    assert result.retry_after == topics.RETRY_KAFKA
    assert events.reasons == ["KafkaUnreachable"]


def test_unmanaged_status() -> None:
    status = topics.unmanaged(TopicStatus(), generation=3, now=lambda: dt.datetime(2026, 1, 1, tzinfo=dt.UTC))
    assert _ready(status) == ("Unknown", "Unmanaged")
    assert status.observed_generation == 3
