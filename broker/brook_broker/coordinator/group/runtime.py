"""`CoordinatorRuntime`: the shards of the offsets-topic partitions this broker leads, and their I/O.

Kafka's ``CoordinatorRuntime``, for one event loop. It owns the lifecycle and the write path;
the group operations on top of it are `coordinator.GroupCoordinator`'s.

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
    partition_for,
)
from brook_broker.coordinator.group.loader import iter_partition, load_partition
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


class State(enum.Enum):
    LOADING = "loading"
    ACTIVE = "active"
    FAILED = "failed"
    CLOSED = "closed"


@dataclasses.dataclass(eq=False, slots=True)
class Slot:
    """One offsets-topic partition this broker coordinates."""

    tp: TopicPartition
    shard: GroupCoordinatorShard
    timer: EventLoopTimer
    state: State = State.LOADING


class CoordinatorRuntime:
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
        self._slots: dict[int, Slot] = {}
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
            partition=partition_id, config=self.config, timer=timer, time_ms=self._time_ms, image=self._image
        )
        slot = self._slots[partition_id] = Slot(tp, shard, timer)
        log = self._replica_manager.get_partition(tp).log
        if log.log_end_offset == log.log_start_offset:
            for record_offset, record in iter_partition(log):
                slot.shard.replay(record_offset, record)
            self._activate(slot)
        else:
            self._spawn(self._load_in_background(slot))

    async def _load_in_background(self, slot: Slot) -> None:
        started = time.monotonic()
        log = self._replica_manager.get_partition(slot.tp).log
        try:
            count = await load_partition(log, slot.shard)
        except Exception:
            logger.exception("Failed to load %s; its groups get NOT_COORDINATOR", slot.tp)
            slot.state = State.FAILED
            return
        if slot.state is not State.LOADING:
            return  # unloaded meanwhile
        self._activate(slot)
        logger.info(
            "Finished loading offsets and group metadata from %s in %d ms (%d records, %d groups)",
            slot.tp,
            (time.monotonic() - started) * 1000,
            count,
            len(slot.shard.groups),
        )

    def _activate(self, slot: Slot) -> None:
        slot.state = State.ACTIVE
        for result in slot.shard.on_loaded():
            self._write_in_background(slot, result)

    def _unload(self, partition_id: int) -> None:
        slot = self._slots.pop(partition_id, None)
        if slot is None:
            return
        slot.state = State.CLOSED
        slot.shard.on_unloaded()
        slot.timer.cancel_all()

    def _active_slots(self) -> list[Slot]:
        return [slot for slot in self._slots.values() if slot.state is State.ACTIVE]

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

    def _slot_for(self, group_id: str) -> Slot:
        slot = self._slots.get(self.partition_for(group_id))
        if slot is None or slot.state in (State.CLOSED, State.FAILED):
            raise BrokerError(
                f"This broker is not the coordinator of group {group_id}",
                error_code=ErrorCode.not_coordinator,
            )
        if slot.state is State.LOADING:
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

    def _append(self, slot: Slot, result: CoordinatorResult[Any]) -> tuple[ErrorCode, int]:
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

    async def _committed(self, slot: Slot, result: CoordinatorResult[Any]) -> ErrorCode:
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

    def _write_in_background(self, slot: Slot, result: CoordinatorResult[Any]) -> None:
        if result.records or result.on_committed is not None:
            self._spawn(self._committed(slot, result))

    def _run_timer_operation(self, partition_id: int, timer: EventLoopTimer, operation: Operation) -> None:
        slot = self._slots.get(partition_id)
        if slot is None or slot.timer is not timer or slot.state is not State.ACTIVE:
            return
        try:
            result = operation()
        except Exception:
            logger.exception("timer operation on %s failed", slot.tp)
            return
        self._write_in_background(slot, result)


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
