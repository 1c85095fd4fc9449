"""Topic reconcile through the Kafka admin API: Kubernetes is the source of truth, one way.

`reconcile()`:

1. Parse the spec (`InvalidSpec`, Stalled); a topic name that differs from the one in status is
   `NotSupported` (the CRD also refuses the change).
2. Create the topic, or adopt it if it already exists (an Event says which).
3. Raise the partition count if the spec asks for more.
4. Make the topic's config equal to spec.config with IncrementalAlterConfigs: SET what differs, DELETE
   (back to the broker default) what is set on the topic but absent from the spec.
5. Refuse what Kafka cannot do: fewer partitions than exist, or another replication factor
   (`Ready=False`, reason `NotSupported`, Stalled) — after applying everything else.
6. On a periodic resync of an unchanged generation, any change made in steps 3-4 was out-of-band drift:
   it is reverted, recorded in `status.lastDrift` and announced by a Warning Event `DriftReverted`.

`delete()` removes the topic from Kafka when the Topic is deleted (called from the finalizer handler).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable
from typing import Any

import pydantic

from brook_operator import admin
from brook_operator.api.common import ConditionStatus, utcnow
from brook_operator.api.topic import ConfigDrift, DriftStatus, TopicSpec, TopicStatus, parse_spec
from brook_operator.reconcilers import conditions
from brook_operator.reconcilers.common import EventSink
from brook_operator.reconcilers.conditions import Reason

#: How soon to retry when Kafka cannot be reached or answers with an error.
RETRY_KAFKA = 15.0


@dataclasses.dataclass(frozen=True)
class Result:
    status: TopicStatus
    retry_after: float | None


AdminFactory = Callable[[str], admin.KafkaAdmin]


def _validation_message(error: pydantic.ValidationError) -> str:
    return "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'spec'}: {e['msg']}" for e in error.errors())


def config_changes(
    *, desired: dict[str, str], actual: dict[str, admin.ConfigEntry]
) -> tuple[dict[str, str], list[str]]:
    """(keys to SET with their values, keys to DELETE) that make the topic's config equal the spec."""
    to_set = {
        k: v
        for k, v in desired.items()
        if k not in actual or actual[k].value != v or not actual[k].set_on_topic
    }
    to_delete = sorted(k for k, entry in actual.items() if entry.set_on_topic and k not in desired)
    # A value equal to the default but not set on the topic still gets SET: the spec pins it explicitly.
    return to_set, to_delete


async def reconcile(
    *,
    name: str,
    generation: int,
    spec: dict[str, Any],
    previous: TopicStatus,
    bootstrap_servers: str,
    events: EventSink,
    resync: bool,
    connect: AdminFactory = lambda servers: admin.KafkaAdmin(bootstrap_servers=servers),
    now: Callable[[], dt.datetime] = utcnow,
) -> Result:
    """Make the Kafka topic match the Topic's spec (steps in the module doc)."""

    def status(ready: bool, reason: Reason, message: str, **fields: Any) -> TopicStatus:
        stalled = reason in {Reason.INVALID_SPEC, Reason.NOT_SUPPORTED}
        new_conditions = conditions.summary(
            previous.conditions,
            ready=ready,
            reason=reason,
            message=message,
            stalled=stalled,
            generation=generation,
            now=now,
        )
        return previous.model_copy(
            update={"observed_generation": generation, "conditions": new_conditions, **fields}
        )

    try:
        parsed = parse_spec(spec)  # 1
    except pydantic.ValidationError as error:
        return Result(status(False, Reason.INVALID_SPEC, _validation_message(error)), None)
    topic = parsed.name_in_kafka(name)
    if previous.topic_name and previous.topic_name != topic:
        message = f"changing the topic name ({previous.topic_name} -> {topic}) is not supported"
        return Result(status(False, Reason.NOT_SUPPORTED, message), None)
    # A resync of a generation that was already in sync: whatever has to change now is drift.
    was_ready = conditions.find(previous.conditions, conditions.READY)
    drift_check = (
        resync
        and previous.observed_generation == generation
        and was_ready is not None
        and was_ready.status == "True"
    )
    try:
        async with connect(bootstrap_servers) as kafka:
            return await _sync(
                kafka,
                parsed,
                topic=topic,
                previous=previous,
                events=events,
                drift_check=drift_check,
                status=status,
                now=now,
            )
    except admin.KafkaAdminError as error:
        reason = Reason.KAFKA_UNREACHABLE if str(error).startswith("cannot connect") else Reason.KAFKA_ERROR
        message = f"{bootstrap_servers}: {error}"
        if was_ready is None or was_ready.reason != reason:
            events(type_="Warning", reason=str(reason), message=message)
        return Result(status(False, reason, message), RETRY_KAFKA)


async def _sync(
    kafka: admin.KafkaAdmin,
    spec: TopicSpec,
    *,
    topic: str,
    previous: TopicStatus,
    events: EventSink,
    drift_check: bool,
    status: Callable[..., TopicStatus],
    now: Callable[[], dt.datetime],
) -> Result:
    described = await kafka.describe_topic(topic)  # 2
    if described is None:
        await kafka.create_topic(
            name=topic,
            partitions=spec.partitions,
            replication_factor=spec.replication_factor,
            config=spec.config,
        )
        events(
            type_="Normal",
            reason="Created",
            message=f"topic {topic} created with {spec.partitions} partitions",
        )
        described = await kafka.describe_topic(topic)
        if described is None:
            raise admin.KafkaAdminError(f"topic {topic} was created but is not in the metadata yet")
    elif previous.topic_name is None:
        events(type_="Normal", reason="Adopted", message=f"existing topic {topic} adopted")
    drift: list[ConfigDrift] = []
    problems: list[str] = []
    if described.partitions < spec.partitions:  # 3
        await kafka.create_partitions(name=topic, total=spec.partitions)
        drift.append(
            ConfigDrift(
                field="partitions", kafka_value=str(described.partitions), spec_value=str(spec.partitions)
            )
        )
        events(
            type_="Normal",
            reason="PartitionsAdded",
            message=f"topic {topic}: {described.partitions} -> {spec.partitions} partitions",
        )
    elif described.partitions > spec.partitions:
        problems.append(
            f"decreasing partitions ({described.partitions} -> {spec.partitions}) is not supported"
        )
    actual = await kafka.describe_topic_config(topic)  # 4
    to_set, to_delete = config_changes(desired=dict(spec.config), actual=actual)
    if to_set or to_delete:
        await kafka.alter_topic_config(name=topic, set_values=to_set, delete=to_delete)
        changed = sorted([*to_set, *to_delete])
        events(type_="Normal", reason="ConfigUpdated", message=f"topic {topic}: {', '.join(changed)}")
        drift += [
            ConfigDrift(
                field=k,
                kafka_value=actual[k].value if k in actual and actual[k].set_on_topic else None,
                spec_value=spec.config.get(k),
            )
            for k in changed
        ]
    if described.replication_factor != spec.replication_factor:  # 5
        problems.append(
            f"changing the replication factor ({described.replication_factor} -> {spec.replication_factor})"
            " is not supported"
        )
    fields: dict[str, Any] = {
        "topic_name": topic,
        "partitions": max(described.partitions, spec.partitions),
        "replication_factor": described.replication_factor,
    }
    if drift_check and drift:  # 6
        fields["last_drift"] = DriftStatus(detected_at=now(), changes=drift)
        events(
            type_="Warning",
            reason="DriftReverted",
            message=f"topic {topic} changed out-of-band, reverted: {', '.join(d.field for d in drift)}",
        )
    if problems:
        message = f"topic {topic}: " + "; ".join(problems)
        events(type_="Warning", reason=str(Reason.NOT_SUPPORTED), message=message)
        return Result(status(False, Reason.NOT_SUPPORTED, message, **fields), None)
    message = (
        f"topic {topic}: {fields['partitions']} partitions, replication factor {described.replication_factor}"
    )
    return Result(status(True, Reason.READY, message, **fields), None)


async def delete(
    *,
    topic: str,
    bootstrap_servers: str,
    events: EventSink,
    connect: AdminFactory = lambda servers: admin.KafkaAdmin(bootstrap_servers=servers),
) -> None:
    """Delete the topic from Kafka (a topic that is already gone counts as deleted).

    Raises `admin.KafkaAdminError` when Kafka cannot be reached or refuses; the caller decides whether
    to retry or to release the finalizer.
    """
    async with connect(bootstrap_servers) as kafka:
        existed = await kafka.delete_topic(topic)
    events(
        type_="Normal",
        reason="Deleted",
        message=f"topic {topic} {'deleted' if existed else 'was already gone'}",
    )


def unmanaged(
    previous: TopicStatus, *, generation: int, now: Callable[[], dt.datetime] = utcnow
) -> TopicStatus:
    """The status of a Topic annotated `brook.dev/managed: "false"`: the operator leaves Kafka alone."""
    new_conditions = conditions.summary(
        previous.conditions,
        ready=ConditionStatus.UNKNOWN,
        reason=Reason.UNMANAGED,
        message='annotation brook.dev/managed is "false": the operator does not touch this topic',
        generation=generation,
        now=now,
    )
    return previous.model_copy(update={"observed_generation": generation, "conditions": new_conditions})
