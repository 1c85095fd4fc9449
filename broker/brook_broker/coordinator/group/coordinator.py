"""`GroupCoordinator`: the group coordinator service (Kafka's GroupCoordinatorService + runtime).

Every group lives in one ``__consumer_offsets`` partition (`common.partition_for`) and this
broker coordinates the groups of the partitions it leads, one `shard.GroupCoordinatorShard`
each. This class is the runtime around the shards:

- **Lifecycle.** The offsets topic is created through the controller on the first
  FindCoordinator, as Kafka does (COORDINATOR_NOT_AVAILABLE while that is impossible, e.g.
  ``offsets.topic.replication.factor`` exceeds the live brokers). A partition this broker
  leads is *loaded* — its records replayed into a fresh shard (`loader`) — in the background
  at startup, and requests for its groups get COORDINATOR_LOAD_IN_PROGRESS until it is done;
  a newly created (empty) partition is ready at once. `shutdown` unloads every shard.
- **Writes.** An operation runs synchronously against its shard and returns records; they
  are appended to the partition's log at once (acks=1) and replayed into the shard in that
  same step, so shard state always follows log order. The response waits until the high
  watermark covers the records (Kafka's CoordinatorPartitionWriter: acks=1 then wait, which
  is acks=all semantics) or ``offsets.commit.timeout.ms`` passes. Timer operations (session
  expiry, delayed rebalances, offset expiration) go through the same path.

Called by the `apis/` group and offset handlers; built by `server.broker.BrokerServer`.
"""

from __future__ import annotations

import asyncio
import dataclasses
import enum
import logging
import time
from collections.abc import Callable
from typing import Any, TypeVar

from brook_broker.coordinator.group.common import (
    CoordinatorResult,
    GroupConfig,
    OnCommitted,
    append_error_to_response_error,
    partition_for,
)
from brook_broker.coordinator.group.group import ListedGroup
from brook_broker.coordinator.group.loader import iter_partition, load_partition
from brook_broker.coordinator.group.messages import (
    DescribedGroup,
    HeartbeatRequest,
    JoinGroupRequest,
    JoinGroupResponse,
    LeaveGroupResponse,
    LeavingMember,
    OffsetCommitRequest,
    OffsetFetchRequest,
    OffsetFetchResponse,
    PartitionError,
    SyncGroupRequest,
    SyncGroupResponse,
)
from brook_broker.coordinator.group.records import CoordinatorRecord, encode_key, encode_value
from brook_broker.coordinator.group.shard import GroupCoordinatorShard
from brook_broker.coordinator.group.timer import EventLoopTimer, Operation
from brook_broker.metadata.controller import NewTopic, QuorumController
from brook_broker.metadata.image import MetadataDelta, MetadataImage, TopicImage
from brook_broker.protocol.errors import BrokerError, ErrorCode
from brook_broker.protocol.record_reader import Record, build_batch
from brook_broker.protocol.types import TopicPartition
from brook_broker.replication.replica_manager import ReplicaManager

logger = logging.getLogger(__name__)

OFFSETS_TOPIC = "__consumer_offsets"
T = TypeVar("T")


def _now_ms() -> int:
    return int(time.time() * 1000)


class _State(enum.Enum):
    LOADING = "loading"
    ACTIVE = "active"
    FAILED = "failed"
    CLOSED = "closed"


@dataclasses.dataclass(eq=False, slots=True)
class _Slot:
    """One offsets-topic partition this broker coordinates."""

    tp: TopicPartition
    shard: GroupCoordinatorShard
    timer: EventLoopTimer
    state: _State = _State.LOADING


class GroupCoordinator:
    def __init__(
        self,
        *,
        node_id: int,
        config: GroupConfig,
        replica_manager: ReplicaManager,
        controller: QuorumController,
        image: MetadataImage,
        time_ms: Callable[[], int] = _now_ms,
    ) -> None:
        self.node_id = node_id
        self.config = config
        self._replica_manager = replica_manager
        self._controller = controller
        self._image = image
        self._time_ms = time_ms
        self._slots: dict[int, _Slot] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._last_creation_error: str | None = None

    # --- lifecycle ------------------------------------------------------------------------

    def startup(self) -> None:
        """Load every offsets partition this broker leads (in the background)."""
        for tp, partition in list(self._replica_manager.partitions.items()):
            if tp.topic == OFFSETS_TOPIC and partition.is_leader:
                self._load(tp.partition)

    def on_metadata_delta(self, delta: MetadataDelta) -> None:
        """Controller listener: load new offsets partitions; drop offsets of deleted topics."""
        for topic, partition_id in [*delta.created_partitions, *delta.changed_partitions]:
            if topic.name != OFFSETS_TOPIC:
                continue
            partition = self._replica_manager.partitions.get(TopicPartition(OFFSETS_TOPIC, partition_id))
            if partition is not None and partition.is_leader:
                if partition_id not in self._slots:
                    self._load(partition_id)
            else:
                self._unload(partition_id)
        deleted = {topic.name for topic in delta.deleted_topics}
        if OFFSETS_TOPIC in deleted:
            for partition_id in list(self._slots):
                self._unload(partition_id)
        if others := deleted - {OFFSETS_TOPIC}:
            for slot in self._active_slots():
                self._write_in_background(slot, slot.shard.delete_offsets_of_topics(others))

    async def shutdown(self) -> None:
        """Unload every shard: parked joins and syncs are answered NOT_COORDINATOR."""
        for partition_id in list(self._slots):
            self._unload(partition_id)
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def _load(self, partition_id: int) -> None:
        tp = TopicPartition(OFFSETS_TOPIC, partition_id)
        timer = EventLoopTimer(lambda operation: self._run_timer_operation(partition_id, timer, operation))
        shard = GroupCoordinatorShard(
            partition=partition_id, config=self.config, timer=timer, time_ms=self._time_ms
        )
        slot = self._slots[partition_id] = _Slot(tp, shard, timer)
        log = self._replica_manager.get_partition(tp).log
        if log.log_end_offset == log.log_start_offset:
            for record_offset, record in iter_partition(log):
                slot.shard.replay(record_offset, record)
            self._activate(slot)
        else:
            self._spawn(self._load_in_background(slot))

    async def _load_in_background(self, slot: _Slot) -> None:
        started = time.monotonic()
        log = self._replica_manager.get_partition(slot.tp).log
        try:
            count = await load_partition(log, slot.shard)
        except Exception:
            logger.exception("Failed to load %s; its groups get NOT_COORDINATOR", slot.tp)
            slot.state = _State.FAILED
            return
        if slot.state is not _State.LOADING:
            return  # unloaded meanwhile
        self._activate(slot)
        logger.info(
            "Finished loading offsets and group metadata from %s in %d ms (%d records, %d groups)",
            slot.tp,
            (time.monotonic() - started) * 1000,
            count,
            len(slot.shard.groups),
        )

    def _activate(self, slot: _Slot) -> None:
        slot.state = _State.ACTIVE
        for result in slot.shard.on_loaded():
            self._write_in_background(slot, result)

    def _unload(self, partition_id: int) -> None:
        slot = self._slots.pop(partition_id, None)
        if slot is None:
            return
        slot.state = _State.CLOSED
        slot.shard.on_unloaded()
        slot.timer.cancel_all()

    def _active_slots(self) -> list[_Slot]:
        return [slot for slot in self._slots.values() if slot.state is _State.ACTIVE]

    def _spawn(self, coroutine: Any) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # --- routing --------------------------------------------------------------------------

    def num_partitions(self) -> int:
        topic = self._image.topic(OFFSETS_TOPIC)
        return len(topic.partitions) if topic is not None else self.config.offsets_topic_num_partitions

    def partition_for(self, group_id: str) -> int:
        return partition_for(group_id, self.num_partitions())

    def _slot_for(self, group_id: str) -> _Slot:
        slot = self._slots.get(self.partition_for(group_id))
        if slot is None or slot.state in (_State.CLOSED, _State.FAILED):
            raise BrokerError(
                f"This broker is not the coordinator of group {group_id}",
                error_code=ErrorCode.not_coordinator,
            )
        if slot.state is _State.LOADING:
            raise BrokerError(
                f"The coordinator of group {group_id} is loading",
                error_code=ErrorCode.coordinator_load_in_progress,
            )
        return slot

    def find_coordinator(self, group_id: str) -> tuple[ErrorCode, int]:
        """``(error, node id)`` of the coordinator of ``group_id``, creating the offsets topic if needed."""
        topic = self._image.topic(OFFSETS_TOPIC)
        if topic is None:
            topic = self._create_offsets_topic()
            if topic is None:
                return ErrorCode.coordinator_not_available, -1
        registration = topic.partitions.get(partition_for(group_id, len(topic.partitions)))
        if registration is None or registration.leader < 0:
            return ErrorCode.coordinator_not_available, -1
        return ErrorCode.none, registration.leader

    def _create_offsets_topic(self) -> TopicImage | None:
        config = self.config
        new_topic = NewTopic(
            name=OFFSETS_TOPIC,
            num_partitions=config.offsets_topic_num_partitions,
            replication_factor=config.offsets_topic_replication_factor,
            configs={
                "cleanup.policy": "compact",
                "compression.type": "producer",
                "segment.bytes": str(config.offsets_topic_segment_bytes),
            },
        )
        (result,) = self._controller.create_topics([new_topic], validate_only=False)
        if result.error.code != ErrorCode.none:
            message = result.error.message or result.error.code.name
            if message != self._last_creation_error:  # clients retry every ~100 ms: say it once
                logger.warning("Cannot create %s: %s", OFFSETS_TOPIC, message)
                self._last_creation_error = message
            return None
        logger.info("Created %s with %d partitions", OFFSETS_TOPIC, result.num_partitions)
        return self._image.topic(OFFSETS_TOPIC)

    # --- the write path ---------------------------------------------------------------------

    def _append(self, slot: _Slot, result: CoordinatorResult[Any]) -> tuple[ErrorCode, int]:
        """Append ``result.records`` and replay them; ``(error, offset to wait for)``."""
        if not result.records:
            return ErrorCode.none, -1
        batch = encode_batch(result.records, timestamp_ms=self._time_ms())
        try:
            info = self._replica_manager.append_to_leader(slot.tp, batch)
        except BrokerError as exc:
            logger.warning("Failed to append %d record(s) to %s: %s", len(result.records), slot.tp, exc)
            return exc.error_code, -1
        if result.replay:
            for index, record in enumerate(result.records):
                slot.shard.replay(info.first_offset + index, record)
        return ErrorCode.none, info.last_offset + 1

    async def _committed(self, slot: _Slot, result: CoordinatorResult[Any]) -> ErrorCode:
        error, end_offset = self._append(slot, result)
        if error == ErrorCode.none and end_offset >= 0:
            error = await self._replica_manager.wait_for_high_watermark(
                slot.tp, end_offset, timeout_ms=self.config.offsets_commit_timeout_ms
            )
        _notify(result.on_committed, error)
        return error

    async def _write(
        self, group_id: str, operation: Callable[[GroupCoordinatorShard], CoordinatorResult[T]]
    ) -> tuple[CoordinatorResult[T], ErrorCode]:
        """Run a write operation for ``group_id``'s shard; BrokerError for routing and validation errors."""
        slot = self._slot_for(group_id)
        result = operation(slot.shard)
        return result, await self._committed(slot, result)

    def _write_in_background(self, slot: _Slot, result: CoordinatorResult[Any]) -> None:
        if result.records or result.on_committed is not None:
            self._spawn(self._committed(slot, result))

    def _run_timer_operation(self, partition_id: int, timer: EventLoopTimer, operation: Operation) -> None:
        slot = self._slots.get(partition_id)
        if slot is None or slot.timer is not timer or slot.state is not _State.ACTIVE:
            return
        try:
            result = operation()
        except Exception:
            logger.exception("timer operation on %s failed", slot.tp)
            return
        self._write_in_background(slot, result)

    # --- classic group protocol ---------------------------------------------------------

    async def join_group(self, request: JoinGroupRequest) -> JoinGroupResponse:
        future: asyncio.Future[JoinGroupResponse] = asyncio.get_running_loop().create_future()

        def respond(response: JoinGroupResponse) -> None:
            if not future.done():
                future.set_result(response)

        try:
            await self._write(request.group_id, lambda shard: shard.classic.join_group(request, respond))
        except BrokerError as exc:
            respond(JoinGroupResponse(error=exc.error_code, member_id=request.member_id))
        return await future

    async def sync_group(self, request: SyncGroupRequest) -> SyncGroupResponse:
        future: asyncio.Future[SyncGroupResponse] = asyncio.get_running_loop().create_future()

        def respond(response: SyncGroupResponse) -> None:
            if not future.done():
                future.set_result(response)

        try:
            await self._write(request.group_id, lambda shard: shard.classic.sync_group(request, respond))
        except BrokerError as exc:
            respond(SyncGroupResponse(error=exc.error_code))
        return await future

    def heartbeat(self, request: HeartbeatRequest) -> ErrorCode:
        try:
            slot = self._slot_for(request.group_id)
        except BrokerError as exc:
            # While loading, Kafka answers heartbeats blindly: the member is probably fine.
            return (
                ErrorCode.none if exc.error_code == ErrorCode.coordinator_load_in_progress else exc.error_code
            )
        return slot.shard.classic.heartbeat(request)

    async def leave_group(self, group_id: str, members: tuple[LeavingMember, ...]) -> LeaveGroupResponse:
        try:
            result, _ = await self._write(
                group_id, lambda shard: shard.classic.leave_group(group_id, members)
            )
        except BrokerError as exc:
            return LeaveGroupResponse(exc.error_code)
        assert result.response is not None
        return result.response

    # --- admin ----------------------------------------------------------------------------

    def list_groups(self, *, states: set[str], types: set[str]) -> tuple[ErrorCode, list[ListedGroup]]:
        if any(slot.state is _State.LOADING for slot in self._slots.values()):
            return ErrorCode.coordinator_load_in_progress, []
        groups = [
            g for slot in self._active_slots() for g in slot.shard.list_groups(states=states, types=types)
        ]
        return ErrorCode.none, groups

    def describe_group(self, group_id: str, *, api_version: int) -> DescribedGroup:
        try:
            slot = self._slot_for(group_id)
        except BrokerError as exc:
            return DescribedGroup(group_id=group_id, error=exc.error_code)
        return slot.shard.describe_group(group_id, api_version=api_version)

    async def delete_groups(self, group_ids: list[str]) -> dict[str, ErrorCode]:
        by_partition: dict[int, list[str]] = {}
        for group_id in group_ids:
            by_partition.setdefault(self.partition_for(group_id), []).append(group_id)
        results: dict[str, ErrorCode] = {}
        for ids in by_partition.values():

            def operation(
                shard: GroupCoordinatorShard, ids: list[str] = ids
            ) -> CoordinatorResult[dict[str, ErrorCode]]:
                return shard.delete_groups(ids)

            try:
                result, error = await self._write(ids[0], operation)
            except BrokerError as exc:
                results.update(dict.fromkeys(ids, exc.error_code))
                continue
            assert result.response is not None
            for group_id, code in result.response.items():
                results[group_id] = (
                    code
                    if error == ErrorCode.none or code != ErrorCode.none
                    else append_error_to_response_error(error)
                )
        return {group_id: results[group_id] for group_id in group_ids}

    # --- offsets --------------------------------------------------------------------------

    async def commit_offsets(self, request: OffsetCommitRequest) -> list[PartitionError]:
        """Per-partition errors; a group-level error (routing, membership) applies to all."""
        try:
            result, error = await self._write(
                request.group_id, lambda shard: shard.offsets.commit_offsets(request)
            )
        except BrokerError as exc:
            return [PartitionError(p.topic, p.partition, exc.error_code) for p in request.partitions]
        response = result.response
        assert response is not None
        if error != ErrorCode.none:
            code = append_error_to_response_error(error)
            return [
                PartitionError(p.topic, p.partition, code if p.error == ErrorCode.none else p.error)
                for p in response
            ]
        return response

    async def fetch_offsets(self, request: OffsetFetchRequest) -> OffsetFetchResponse:
        try:
            slot = self._slot_for(request.group_id)
        except BrokerError as exc:
            return OffsetFetchResponse(request.group_id, exc.error_code)
        if request.require_stable:
            # Everything appended must be committed before we answer (Kafka runs this as a write).
            log_end = self._replica_manager.get_partition(slot.tp).log.log_end_offset
            error = await self._replica_manager.wait_for_high_watermark(
                slot.tp, log_end, timeout_ms=self.config.offsets_commit_timeout_ms
            )
            if error != ErrorCode.none:
                return OffsetFetchResponse(request.group_id, append_error_to_response_error(error))
        return slot.shard.offsets.fetch_offsets(request)

    async def delete_offsets(
        self, group_id: str, partitions: list[tuple[str, int]]
    ) -> tuple[ErrorCode, list[PartitionError]]:
        try:
            result, error = await self._write(
                group_id, lambda shard: shard.offsets.delete_offsets(group_id, partitions)
            )
        except BrokerError as exc:
            return exc.error_code, []
        assert result.response is not None
        if error != ErrorCode.none:
            return append_error_to_response_error(error), []
        return ErrorCode.none, result.response


def encode_batch(records: list[CoordinatorRecord], *, timestamp_ms: int) -> bytes:
    """One uncompressed v2 batch holding ``records`` (``offsets.topic.compression.codec``: none)."""
    return build_batch(
        [
            Record(offset=index, timestamp=timestamp_ms, key=encode_key(r.key), value=encode_value(r.value))
            for index, r in enumerate(records)
        ],
        base_offset=0,
    )


def _notify(callback: OnCommitted | None, error: ErrorCode) -> None:
    if callback is not None:
        try:
            callback(error)
        except Exception:
            logger.exception("coordinator completion callback failed")
