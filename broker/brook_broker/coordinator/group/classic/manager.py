"""`ClassicGroupManager`: the classic group protocol of one shard, after the join phase.

SyncGroup, Heartbeat, LeaveGroup and DescribeGroups for classic groups, plus what the shard
needs around them: rebuilding groups from GroupMetadata records when the partition is
loaded, restarting member sessions after the load, and failing parked requests when the
partition is unloaded. JoinGroup is in the base class `classic.join`, the rebalance
mechanics below it in `classic.rebalance`.

SyncGroup: followers park until the leader's SyncGroup arrives; the leader's assignment is
written as a GroupMetadata record and, once committed, every parked member gets its share and
the group is Stable. Kafka's ``GroupMetadataManager.classicGroupSync*/Heartbeat*/Leave*``.
"""

from __future__ import annotations

import logging

from brook_broker.coordinator.group.classic.group import ClassicGroup, ClassicGroupState
from brook_broker.coordinator.group.classic.join import ClassicJoin
from brook_broker.coordinator.group.classic.member import EMPTY_ASSIGNMENT, ClassicGroupMember
from brook_broker.coordinator.group.classic.rebalance import heartbeat_key, join_key, sync_key
from brook_broker.coordinator.group.common import (
    EMPTY_RESULT,
    CoordinatorResult,
    append_error_to_response_error,
)
from brook_broker.coordinator.group.messages import (
    UNKNOWN_MEMBER_ID,
    DescribedGroup,
    HeartbeatRequest,
    JoinGroupResponse,
    LeaveGroupResponse,
    LeavingMember,
    LeftMember,
    SyncCallback,
    SyncGroupRequest,
    SyncGroupResponse,
)
from brook_broker.coordinator.group.records import GroupMetadataValue
from brook_broker.protocol.errors import BrokerError, ErrorCode

logger = logging.getLogger(__name__)

_EMPTY = ClassicGroupState.EMPTY
_PREPARING = ClassicGroupState.PREPARING_REBALANCE
_COMPLETING = ClassicGroupState.COMPLETING_REBALANCE
_STABLE = ClassicGroupState.STABLE
_DEAD = ClassicGroupState.DEAD


class ClassicGroupManager(ClassicJoin):
    # --- SyncGroup --------------------------------------------------------------------------

    def sync_group(self, request: SyncGroupRequest, respond: SyncCallback) -> CoordinatorResult[None]:
        if not request.group_id:
            respond(SyncGroupResponse(error=ErrorCode.invalid_group_id))
            return EMPTY_RESULT
        group = self._classic(request.group_id)
        if group is None or group.is_empty():
            respond(SyncGroupResponse(error=ErrorCode.unknown_member_id))
            return EMPTY_RESULT
        error = self._validate_sync(group, request)
        if error != ErrorCode.none:
            respond(SyncGroupResponse(error=error))
        elif group.is_in(_PREPARING):
            respond(SyncGroupResponse(error=ErrorCode.rebalance_in_progress))
        elif group.is_in(_COMPLETING):
            member = group.member(request.member_id)
            previous, member.awaiting_sync = member.awaiting_sync, respond
            if previous is not None:
                previous(SyncGroupResponse(error=ErrorCode.rebalance_in_progress))
            self._remove_pending_sync_member(group, request.member_id)
            if group.is_leader(request.member_id):
                return self._store_assignment(group, request)
        elif group.is_in(_STABLE):
            self._remove_pending_sync_member(group, request.member_id)
            member = group.member(request.member_id)
            respond(
                SyncGroupResponse(
                    error=ErrorCode.none,
                    protocol_type=group.protocol_type,
                    protocol_name=group.protocol_name,
                    assignment=member.assignment,
                )
            )
        return EMPTY_RESULT

    def _store_assignment(self, group: ClassicGroup, request: SyncGroupRequest) -> CoordinatorResult[None]:
        """The leader's assignment: persist it, then hand it out and become Stable."""
        assignments = dict(request.assignments)
        missing = [m for m in group.members if m not in assignments]
        for member_id in missing:
            assignments[member_id] = EMPTY_ASSIGNMENT
        if missing:
            logger.warning(
                "Group %s generation %d: empty assignments for %s",
                group.group_id,
                group.generation_id,
                missing,
            )
        logger.info(
            "Assignment received from leader %s for group %s for generation %d (%d members)",
            request.member_id,
            group.group_id,
            group.generation_id,
            len(group.members),
        )
        generation = request.generation_id

        def on_committed(error: ErrorCode) -> None:
            # A member may have joined meanwhile: only this generation's sync may complete.
            if not group.is_in(_COMPLETING) or generation != group.generation_id:
                return
            if error != ErrorCode.none:
                self._propagate_assignment(group, append_error_to_response_error(error), reset=True)
                self._maybe_prepare_rebalance_or_complete_join(
                    group, f"error {error.name} storing the assignment"
                )
            else:
                self._propagate_assignment(group, ErrorCode.none, assignments=assignments)
                group.transition_to(_STABLE)

        return CoordinatorResult(
            records=[group.metadata_record(assignments)], on_committed=on_committed, replay=False
        )

    @staticmethod
    def _validate_sync(group: ClassicGroup, request: SyncGroupRequest) -> ErrorCode:
        if group.is_in(_DEAD):
            return ErrorCode.coordinator_not_available
        try:
            group.validate_member(request.member_id, request.group_instance_id)
        except BrokerError as exc:
            return exc.error_code
        if request.generation_id != group.generation_id:
            return ErrorCode.illegal_generation
        if _inconsistent(request.protocol_type, group.protocol_type) or _inconsistent(
            request.protocol_name, group.protocol_name
        ):
            return ErrorCode.inconsistent_group_protocol
        return ErrorCode.none

    def _remove_pending_sync_member(self, group: ClassicGroup, member_id: str) -> None:
        group.pending_sync_members.discard(member_id)
        if not group.is_in(_COMPLETING, _STABLE) or not group.pending_sync_members:
            self.timer.cancel(sync_key(group.group_id))

    # --- Heartbeat --------------------------------------------------------------------------

    def heartbeat(self, request: HeartbeatRequest) -> ErrorCode:
        if not request.group_id:
            return ErrorCode.invalid_group_id
        group = self._classic(request.group_id)
        if group is None:
            return ErrorCode.unknown_member_id
        if group.is_in(_DEAD):
            return ErrorCode.coordinator_not_available
        try:
            group.validate_member(request.member_id, request.group_instance_id)
        except BrokerError as exc:
            return exc.error_code
        if request.generation_id != group.generation_id:
            return ErrorCode.illegal_generation
        if group.is_in(_EMPTY):
            return ErrorCode.unknown_member_id
        self._reschedule_heartbeat(group, group.member(request.member_id))
        # Members learn about a rebalance from their heartbeats and rejoin.
        return ErrorCode.rebalance_in_progress if group.is_in(_PREPARING) else ErrorCode.none

    def keep_session_alive(self, group: ClassicGroup, member_id: str) -> None:
        """An offset commit counts as a heartbeat in Stable and PreparingRebalance (Kafka's rule)."""
        if group.is_in(_STABLE, _PREPARING) and group.has_member(member_id):
            self._reschedule_heartbeat(group, group.member(member_id))

    # --- LeaveGroup -------------------------------------------------------------------------

    def leave_group(
        self, group_id: str, members: tuple[LeavingMember, ...]
    ) -> CoordinatorResult[LeaveGroupResponse]:
        if not group_id:
            return CoordinatorResult(response=LeaveGroupResponse(ErrorCode.invalid_group_id))
        group = self._classic(group_id)
        if group is None:
            left = tuple(
                LeftMember(m.member_id, m.group_instance_id, ErrorCode.unknown_member_id) for m in members
            )
            return CoordinatorResult(response=LeaveGroupResponse(ErrorCode.none, left))
        if group.is_in(_DEAD):
            return CoordinatorResult(response=LeaveGroupResponse(ErrorCode.coordinator_not_available))
        responses = tuple(self._leave_one(group, leaving) for leaving in members)
        departed = [r.member_id for r in responses if r.error == ErrorCode.none]
        result: CoordinatorResult[None] = EMPTY_RESULT
        if departed:
            reason = f"explicit LeaveGroup of {departed}"
            if group.is_in(_STABLE, _COMPLETING):
                result = self._maybe_prepare_rebalance_or_complete_join(group, reason)
            elif group.is_in(_PREPARING):
                result = self._maybe_complete_join_phase(group)
        return CoordinatorResult(
            records=result.records,
            response=LeaveGroupResponse(ErrorCode.none, responses),
            on_committed=result.on_committed,
            replay=result.replay,
        )

    def _leave_one(self, group: ClassicGroup, leaving: LeavingMember) -> LeftMember:
        reason = leaving.reason or "not provided"
        if leaving.member_id == UNKNOWN_MEMBER_ID:
            # An admin may remove a static member by its instance id alone (KIP-345).
            instance = leaving.group_instance_id
            member_id = group.static_members.get(instance) if instance is not None else None
            if member_id is None:
                return LeftMember(leaving.member_id, instance, ErrorCode.unknown_member_id)
            self._remove_departing(group, group.member(member_id), reason)
            return LeftMember(leaving.member_id, instance, ErrorCode.none)
        if leaving.member_id in group.pending_join_members:
            group.remove(leaving.member_id)
            self.timer.cancel(heartbeat_key(group.group_id, leaving.member_id))
            return LeftMember(leaving.member_id, leaving.group_instance_id, ErrorCode.none)
        try:
            group.validate_member(leaving.member_id, leaving.group_instance_id)
        except BrokerError as exc:
            return LeftMember(leaving.member_id, leaving.group_instance_id, exc.error_code)
        self._remove_departing(group, group.member(leaving.member_id), reason)
        return LeftMember(leaving.member_id, leaving.group_instance_id, ErrorCode.none)

    def _remove_departing(self, group: ClassicGroup, member: ClassicGroupMember, reason: str) -> None:
        logger.info("Member %s has left group %s (reason: %s)", member.member_id, group.group_id, reason)
        self._remove_member(group, member)

    # --- DescribeGroups ---------------------------------------------------------------------

    def describe_group(self, group_id: str, *, api_version: int) -> DescribedGroup:
        group = self._classic(group_id)
        if group is None:
            if group_id in self.groups:  # another type: Kafka describes only classic groups here
                if api_version >= 6:
                    return DescribedGroup(
                        group_id=group_id,
                        error=ErrorCode.group_id_not_found,
                        error_message=f"Group {group_id} is not a classic group.",
                        state=_DEAD.value,
                    )
                return DescribedGroup(group_id=group_id, state=_DEAD.value)
            if api_version >= 6:
                # KIP-1043: v6 reports a missing group as an error instead of a Dead group.
                return DescribedGroup(
                    group_id=group_id,
                    error=ErrorCode.group_id_not_found,
                    error_message=f"Group {group_id} not found.",
                    state=_DEAD.value,
                )
            return DescribedGroup(group_id=group_id, state=_DEAD.value)
        stable = group.is_in(_STABLE)
        protocol = group.protocol_name if stable else None
        return DescribedGroup(
            group_id=group_id,
            state=group.state_name(),
            protocol_type=group.protocol_type or "",
            protocol_data=protocol or "",
            members=tuple(member.describe(protocol) for member in group.members.values()),
        )

    # --- loading and unloading --------------------------------------------------------------

    def replay_group_metadata(self, group_id: str, value: GroupMetadataValue | None) -> None:
        """Rebuild (or, for a tombstone, drop) a group from its latest GroupMetadata record."""
        if value is None:
            group = self._classic(group_id)
            if group is not None:  # the id may name a consumer group by now: leave that alone
                self._cancel_timers(group)
                group.state = _DEAD
                self.groups.remove(group_id)
            return
        group = ClassicGroup(
            group_id,
            time_ms=self.time_ms,
            state=_STABLE if value.members else _EMPTY,
            generation_id=value.generation,
            protocol_type=value.protocol_type or None,
            protocol_name=value.protocol,
            leader_id=value.leader,
            current_state_timestamp=None
            if value.current_state_timestamp == -1
            else value.current_state_timestamp,
        )
        for stored in value.members:
            group.add(
                ClassicGroupMember(
                    member_id=stored.member_id,
                    group_instance_id=stored.group_instance_id,
                    client_id=stored.client_id,
                    client_host=stored.client_host,
                    # Records older than v1 have no rebalance timeout; Kafka uses the session's.
                    rebalance_timeout_ms=stored.session_timeout
                    if stored.rebalance_timeout == -1
                    else stored.rebalance_timeout,
                    session_timeout_ms=stored.session_timeout,
                    protocol_type=value.protocol_type,
                    supported_protocols=((value.protocol or "", stored.subscription),),
                    assignment=stored.assignment,
                )
            )
        group.leader_id = value.leader
        group.subscribed_topics = group.compute_subscribed_topics()
        self.groups.put(group)

    def on_loaded(self) -> list[CoordinatorResult[None]]:
        """After a load: members get a fresh session to reconnect within; oversize groups rebalance."""
        results = []
        for group in self.groups:
            if not isinstance(group, ClassicGroup):
                continue
            logger.info(
                "Loaded classic group %s (%s) with %d member(s)",
                group.group_id,
                group.state_name(),
                len(group.members),
            )
            for member in group.members.values():
                self._reschedule_heartbeat(group, member)
            if len(group.members) > self.config.classic_group_max_size:
                results.append(self._prepare_rebalance(group, "freshly loaded group is over group.max.size"))
        return results

    def on_unloaded(self) -> None:
        """The partition is going away (shutdown, deletion): parked requests get NOT_COORDINATOR."""
        for group in self.groups:
            if not isinstance(group, ClassicGroup):
                continue
            self._cancel_timers(group)
            group.previous_state, group.state = group.state, _DEAD
            for member in group.members.values():
                member.complete_join(
                    JoinGroupResponse(error=ErrorCode.not_coordinator, member_id=member.member_id)
                )
                member.complete_sync(SyncGroupResponse(error=ErrorCode.not_coordinator))

    def _cancel_timers(self, group: ClassicGroup) -> None:
        self.timer.cancel(join_key(group.group_id))
        self.timer.cancel(sync_key(group.group_id))
        for member_id in [*group.members, *group.pending_join_members]:
            self.timer.cancel(heartbeat_key(group.group_id, member_id))


def _inconsistent(requested: str | None, current: str | None) -> bool:
    return requested is not None and current is not None and requested != current
