"""ConsumerGroup reconcile: observe a group's state and lag; run one-shot offset resets.

`reconcile()`:

1. Parse the spec (`InvalidSpec`, Stalled).
2. Describe the group (state, members) and read its committed offsets and the partitions' end offsets:
   per-partition lag (largest first, at most `MAX_LAG_ENTRIES`) and the total.
3. If `spec.offsetReset` carries a request id not yet finished (status.offsetReset.requestId), run it:
   - only while the group is Empty (or Dead: no members, nothing to disturb); otherwise the request
     stays `Pending`, condition OffsetReset=False reason `GroupNotEmpty`, and is retried on refresh;
   - plan the new offset of every partition of the listed topics from the strategy (clamped to the
     partition's earliest..latest, as kafka-consumer-groups does);
   - a dry run publishes the plan (phase `DryRun`); otherwise the offsets are committed (`Completed`).
   A finished request id never runs again, so re-applying the same manifest (GitOps) is a no-op.

The operator never creates or deletes the group itself: clients own its existence.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Mapping
from typing import Any

import pydantic

from brook_operator import admin
from brook_operator.api.common import ConditionStatus, utcnow
from brook_operator.api.consumergroup import (
    ConsumerGroupStatus,
    OffsetReset,
    OffsetResetStatus,
    PartitionLag,
    PlannedOffset,
    ResetStrategy,
    parse_spec,
)
from brook_operator.reconcilers import conditions
from brook_operator.reconcilers.common import EventSink
from brook_operator.reconcilers.conditions import Reason

MAX_LAG_ENTRIES = 200
#: Group states in which offsets may be changed: nobody is consuming.
RESETTABLE_STATES = frozenset({"Empty", "Dead"})
RETRY_KAFKA = 15.0

AdminFactory = Callable[[str], admin.KafkaAdmin]


@dataclasses.dataclass(frozen=True)
class Result:
    status: ConsumerGroupStatus
    retry_after: float | None


def compute_lag(
    committed: Mapping[admin.TopicPartition, int], end_offsets: Mapping[admin.TopicPartition, int]
) -> list[PartitionLag]:
    """Lag per partition with a committed offset, largest first (ties by topic and partition)."""
    lags = [
        PartitionLag(
            topic=topic,
            partition=partition,
            committed_offset=offset,
            end_offset=end_offsets.get((topic, partition), offset),
            lag=max(end_offsets.get((topic, partition), offset) - offset, 0),
        )
        for (topic, partition), offset in committed.items()
    ]
    return sorted(lags, key=lambda p: (-p.lag, p.topic, p.partition))


def plan_offsets(
    request: OffsetReset,
    *,
    committed: Mapping[admin.TopicPartition, int],
    earliest: Mapping[admin.TopicPartition, int],
    latest: Mapping[admin.TopicPartition, int],
    at_timestamp: Mapping[admin.TopicPartition, int],
) -> list[PlannedOffset]:
    """The new offset of each partition (pure; the caller fetched the offsets the strategy needs).

    Raises ValueError when a partition cannot be planned (shift without a committed offset).
    """
    planned = []
    for tp in sorted(latest):
        low, high = earliest[tp], latest[tp]
        if request.strategy == ResetStrategy.EARLIEST:
            target = low
        elif request.strategy == ResetStrategy.LATEST:
            target = high
        elif request.strategy == ResetStrategy.DATETIME:
            target = at_timestamp[tp]
        elif request.strategy == ResetStrategy.OFFSET:
            assert request.offset is not None
            target = request.offset
        else:
            assert request.shift_by is not None
            if tp not in committed:
                raise ValueError(f"cannot shift {tp[0]}-{tp[1]}: the group has no committed offset there")
            target = committed[tp] + request.shift_by
        planned.append(
            PlannedOffset(
                topic=tp[0],
                partition=tp[1],
                previous_offset=committed.get(tp),
                new_offset=min(max(target, low), high),
            )
        )
    return planned


async def reconcile(
    *,
    name: str,
    generation: int,
    spec: dict[str, Any],
    previous: ConsumerGroupStatus,
    bootstrap_servers: str,
    events: EventSink,
    connect: AdminFactory = lambda servers: admin.KafkaAdmin(bootstrap_servers=servers),
    now: Callable[[], dt.datetime] = utcnow,
) -> Result:
    """Refresh the group's observed state and run a pending offset reset (steps in the module doc)."""

    def with_summary(
        status: ConsumerGroupStatus, ready: bool, reason: Reason, message: str
    ) -> ConsumerGroupStatus:
        new_conditions = conditions.summary(
            status.conditions,
            ready=ready,
            reason=reason,
            message=message,
            stalled=reason == Reason.INVALID_SPEC,
            generation=generation,
            now=now,
        )
        return status.model_copy(update={"observed_generation": generation, "conditions": new_conditions})

    try:
        parsed = parse_spec(spec)  # 1
    except pydantic.ValidationError as error:
        message = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in error.errors())
        return Result(with_summary(previous, False, Reason.INVALID_SPEC, message), None)
    group_id = parsed.group_in_kafka(name)
    try:
        async with connect(bootstrap_servers) as kafka:
            group, committed, observed = await _observe(kafka, group_id, now=now)  # 2
            status = previous.model_copy(update={"group_id": group_id, **observed})
            request = parsed.offset_reset
            done = previous.offset_reset
            if request is not None and (
                done is None or done.request_id != request.request_id or done.phase == "Pending"
            ):
                status = await _offset_reset(  # 3
                    kafka,
                    request,
                    group_id=group_id,
                    state=group.state,
                    committed=committed,
                    status=status,
                    events=events,
                    generation=generation,
                    now=now,
                )
                if status.offset_reset is not None and status.offset_reset.phase == "Completed":
                    # The committed offsets just moved: report the lag they give.
                    _, _, observed = await _observe(kafka, group_id, now=now)
                    status = status.model_copy(update=observed)
    except admin.KafkaAdminError as error:
        message = f"{bootstrap_servers}: {error}"
        reason = Reason.KAFKA_UNREACHABLE if str(error).startswith("cannot connect") else Reason.KAFKA_ERROR
        return Result(with_summary(previous, False, reason, message), RETRY_KAFKA)
    message = f"group {group_id}: {status.state}, {status.members} members, lag {status.total_lag}"
    pending = status.offset_reset is not None and status.offset_reset.phase == "Pending"
    return Result(with_summary(status, True, Reason.READY, message), RETRY_KAFKA if pending else None)


async def _observe(
    kafka: admin.KafkaAdmin, group_id: str, *, now: Callable[[], dt.datetime]
) -> tuple[admin.GroupDescription, dict[admin.TopicPartition, int], dict[str, Any]]:
    """The group's description, committed offsets, and the status fields they give (state, lag)."""
    group = await kafka.describe_group(group_id)
    committed = await kafka.group_offsets(group_id)
    end_offsets = await kafka.list_offsets(committed, timestamp=admin.LATEST) if committed else {}
    lag = compute_lag(committed, end_offsets)
    fields = {
        "state": group.state,
        "members": group.members,
        "total_lag": sum(p.lag for p in lag),
        "lag": lag[:MAX_LAG_ENTRIES],
        "last_refresh_time": now(),
    }
    return group, committed, fields


async def _offset_reset(
    kafka: admin.KafkaAdmin,
    request: OffsetReset,
    *,
    group_id: str,
    state: str,
    committed: Mapping[admin.TopicPartition, int],
    status: ConsumerGroupStatus,
    events: EventSink,
    generation: int,
    now: Callable[[], dt.datetime],
) -> ConsumerGroupStatus:
    def outcome(
        phase: str, reason: Reason, message: str, offsets: list[PlannedOffset] | None = None
    ) -> ConsumerGroupStatus:
        finished = None if phase == "Pending" else now()
        reset = OffsetResetStatus(
            request_id=request.request_id,
            phase=phase,
            dry_run=request.dry_run,
            message=message,
            finished_at=finished,
            offsets=offsets or [],
        )
        ok = ConditionStatus.TRUE if phase in {"Completed", "DryRun"} else ConditionStatus.FALSE
        new_conditions = conditions.set_condition(
            status.conditions,
            type_=conditions.OFFSET_RESET,
            status=ok,
            reason=reason,
            message=message,
            generation=generation,
            now=now,
        )
        return status.model_copy(update={"offset_reset": reset, "conditions": new_conditions})

    if state not in RESETTABLE_STATES and not request.dry_run:
        message = (
            f"offset reset {request.request_id} waits: group {group_id} is {state}; "
            "it must be Empty (stop its consumers)"
        )
        previous = status.offset_reset
        if previous is None or previous.request_id != request.request_id:
            events(type_="Warning", reason=str(Reason.GROUP_NOT_EMPTY), message=message)
        return outcome("Pending", Reason.GROUP_NOT_EMPTY, message)
    partitions_by_topic = await kafka.partitions_of(request.topics)
    missing = sorted(set(request.topics) - set(partitions_by_topic))
    if missing:
        message = f"offset reset {request.request_id} failed: no such topic: {', '.join(missing)}"
        events(type_="Warning", reason=str(Reason.FAILED), message=message)
        return outcome("Failed", Reason.FAILED, message)
    partitions = [(t, p) for t, ps in partitions_by_topic.items() for p in ps]
    earliest = await kafka.list_offsets(partitions, timestamp=admin.EARLIEST)
    latest = await kafka.list_offsets(partitions, timestamp=admin.LATEST)
    at_timestamp: dict[admin.TopicPartition, int] = {}
    if request.strategy == ResetStrategy.DATETIME:
        assert request.datetime is not None
        at_timestamp = await kafka.list_offsets(
            partitions, timestamp=int(request.datetime.timestamp() * 1000)
        )
    try:
        planned = plan_offsets(
            request, committed=committed, earliest=earliest, latest=latest, at_timestamp=at_timestamp
        )
    except ValueError as error:
        message = f"offset reset {request.request_id} failed: {error}"
        events(type_="Warning", reason=str(Reason.FAILED), message=message)
        return outcome("Failed", Reason.FAILED, message)
    if request.dry_run:
        message = (
            f"offset reset {request.request_id} (dry run): {len(planned)} partitions planned, none committed"[
                :200
            ]
        )
        events(type_="Normal", reason=str(Reason.DRY_RUN), message=message)
        return outcome("DryRun", Reason.DRY_RUN, message, planned)
    await kafka.commit_group_offsets(group_id, {(p.topic, p.partition): p.new_offset for p in planned})
    message = f"offset reset {request.request_id}: {len(planned)} partitions reset to {request.strategy}"
    events(type_="Normal", reason="OffsetsReset", message=message)
    return outcome("Completed", Reason.COMPLETED, message, planned)
