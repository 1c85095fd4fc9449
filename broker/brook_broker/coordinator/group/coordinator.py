"""`GroupCoordinator`: the group coordinator service the `apis/` handlers call.

Kafka's ``GroupCoordinatorService``: every group lives in one ``__consumer_offsets``
partition (`common.partition_for`), and each operation is routed to that partition's shard
and run there by the runtime it extends (`runtime.CoordinatorRuntime`: loading, the write
path, timers). JoinGroup and SyncGroup park until the state machine answers them through a
callback; everything else answers from the operation's result.

KIP-848's ConsumerGroupHeartbeat and ConsumerGroupDescribe run against the same shards: a
heartbeat is validated first (INVALID_REQUEST before any group is looked at, as Kafka's
service does), then written like any operation; its response waits for its records.

Built by `server.broker.BrokerServer`.
"""

from __future__ import annotations

import asyncio

from brook_broker.coordinator.group.common import CoordinatorResult, append_error_to_response_error
from brook_broker.coordinator.group.consumer.assignors import assignor_name
from brook_broker.coordinator.group.consumer.messages import (
    ConsumerGroupHeartbeatRequest,
    DescribedConsumerGroup,
)
from brook_broker.coordinator.group.consumer.messages import (
    ConsumerGroupHeartbeatResponse as HeartbeatResponse,
)
from brook_broker.coordinator.group.group import ListedGroup
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
from brook_broker.coordinator.group.runtime import OFFSETS_TOPIC, CoordinatorRuntime, State
from brook_broker.coordinator.group.shard import GroupCoordinatorShard
from brook_broker.protocol.errors import BrokerError, ErrorCode

__all__ = ["OFFSETS_TOPIC", "GroupCoordinator"]


class GroupCoordinator(CoordinatorRuntime):
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

    # --- KIP-848 consumer group protocol --------------------------------------------------

    async def consumer_group_heartbeat(self, request: ConsumerGroupHeartbeatRequest) -> HeartbeatResponse:
        if "consumer" not in self.config.rebalance_protocols:
            # Kafka answers so when group.coordinator.rebalance.protocols leaves "consumer" out.
            return HeartbeatResponse(error=ErrorCode.unsupported_version)
        try:
            request.validate(assignors=self._assignor_names())
            result, error = await self._write(
                request.group_id, lambda shard: shard.consumer.heartbeat(request)
            )
        except BrokerError as exc:
            return HeartbeatResponse(error=exc.error_code, error_message=_message(exc))
        if error != ErrorCode.none:
            return HeartbeatResponse(error=append_error_to_response_error(error))
        assert result.response is not None
        return result.response

    def consumer_group_describe(self, group_id: str) -> DescribedConsumerGroup:
        if not group_id:
            return DescribedConsumerGroup(group_id=group_id, error=ErrorCode.invalid_group_id)
        try:
            slot = self._slot_for(group_id)
        except BrokerError as exc:
            return DescribedConsumerGroup(
                group_id=group_id, error=exc.error_code, error_message=_message(exc)
            )
        return slot.shard.consumer.describe(group_id)

    def _assignor_names(self) -> list[str]:
        return [assignor_name(name) for name in self.config.consumer_group_assignors]

    # --- admin ----------------------------------------------------------------------------

    def list_groups(self, *, states: set[str], types: set[str]) -> tuple[ErrorCode, list[ListedGroup]]:
        if any(slot.state is State.LOADING for slot in self._slots.values()):
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


def _message(exc: BrokerError) -> str | None:
    """The error message Kafka puts next to a code: the exception's, unless it is just the code's name."""
    text = str(exc)
    return None if text == exc.error_code.name.upper() else text
