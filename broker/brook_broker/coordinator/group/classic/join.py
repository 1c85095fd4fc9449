"""JoinGroup for classic groups (Kafka's ``GroupMetadataManager.classicGroupJoin*``).

- A new dynamic member joins in two steps from JoinGroup v4 (KIP-394): the first request gets
  MEMBER_ID_REQUIRED and an id, the second (with that id) parks until the rebalance completes.
- A known member rejoining a Stable group with unchanged protocols just gets the current
  generation back, unless it is the leader: a leader's rejoin always rebalances.
- A static member (``group.instance.id``, KIP-345) rejoining a Stable group without changing
  the selected protocol takes over its old member id and assignment without a rebalance; the
  old instance is fenced (FENCED_INSTANCE_ID).
- A new group is written at once as an empty GroupMetadata record.

The rebalance itself (when joins complete, timers, expiry) is the base class, `rebalance`.
"""

from __future__ import annotations

import logging

from brook_broker.coordinator.group.classic.group import ClassicGroup, ClassicGroupState
from brook_broker.coordinator.group.classic.member import ClassicGroupMember
from brook_broker.coordinator.group.classic.rebalance import (
    ClassicRebalance,
    heartbeat_key,
    join_response,
    once,
)
from brook_broker.coordinator.group.common import (
    EMPTY_RESULT,
    CoordinatorResult,
    append_error_to_response_error,
)
from brook_broker.coordinator.group.messages import (
    UNKNOWN_MEMBER_ID,
    JoinCallback,
    JoinGroupRequest,
    JoinGroupResponse,
)
from brook_broker.coordinator.group.records import CoordinatorRecord, GroupMetadataKey, GroupMetadataValue
from brook_broker.protocol.errors import BrokerError, ErrorCode

logger = logging.getLogger(__name__)

_EMPTY = ClassicGroupState.EMPTY
_PREPARING = ClassicGroupState.PREPARING_REBALANCE
_COMPLETING = ClassicGroupState.COMPLETING_REBALANCE
_STABLE = ClassicGroupState.STABLE
_DEAD = ClassicGroupState.DEAD


class ClassicJoin(ClassicRebalance):
    # --- JoinGroup ------------------------------------------------------------------------

    def join_group(self, request: JoinGroupRequest, respond: JoinCallback) -> CoordinatorResult[None]:
        respond = once(respond)
        config = self.config
        if not request.group_id:
            respond(JoinGroupResponse(error=ErrorCode.invalid_group_id, member_id=request.member_id))
            return EMPTY_RESULT
        if not (
            config.classic_group_min_session_timeout_ms
            <= request.session_timeout_ms
            <= config.classic_group_max_session_timeout_ms
        ):
            respond(JoinGroupResponse(error=ErrorCode.invalid_session_timeout, member_id=request.member_id))
            return EMPTY_RESULT
        unknown_member = request.member_id == UNKNOWN_MEMBER_ID
        new_group = request.group_id not in self.groups
        try:
            group = self.groups.classic_group(request.group_id, create=unknown_member)
        except BrokerError as exc:
            # A known member id for a group that is gone must rejoin from scratch.
            code = (
                ErrorCode.unknown_member_id
                if exc.error_code == ErrorCode.group_id_not_found
                else exc.error_code
            )
            respond(JoinGroupResponse(error=code, member_id=request.member_id))
            return EMPTY_RESULT
        if not self._accept_joining_member(group, request.member_id):
            group.remove(request.member_id)
            respond(JoinGroupResponse(error=ErrorCode.group_max_size_reached, member_id=UNKNOWN_MEMBER_ID))
            result = EMPTY_RESULT
        elif unknown_member:
            result = self._join_new_member(request, group, respond)
        else:
            result = self._join_existing_member(request, group, respond)
        if new_group and not result.records:
            # A new group is made durable right away with an empty GroupMetadata record.
            def on_committed(error: ErrorCode) -> None:
                if error != ErrorCode.none:
                    respond(
                        JoinGroupResponse(
                            error=append_error_to_response_error(error), member_id=UNKNOWN_MEMBER_ID
                        )
                    )

            empty = GroupMetadataValue(
                protocol_type="",
                generation=0,
                protocol=None,
                leader=None,
                current_state_timestamp=group.current_state_timestamp or -1,
            )
            record = CoordinatorRecord(GroupMetadataKey(group.group_id), empty)
            return CoordinatorResult(records=[record], on_committed=on_committed, replay=False)
        return result

    def _accept_joining_member(self, group: ClassicGroup, member_id: str) -> bool:
        max_size = self.config.classic_group_max_size
        if group.is_in(_EMPTY, _DEAD):
            return True
        if group.is_in(_PREPARING):
            # Counting members parked in a join (not the group size) lets a lowered
            # group.max.size shrink a group by refusing the last members to rejoin.
            member = group.members.get(member_id)
            return (member is not None and member.is_awaiting_join) or group.awaiting_join_count() < max_size
        return group.has_member(member_id) or len(group.members) < max_size

    def _join_new_member(
        self, request: JoinGroupRequest, group: ClassicGroup, respond: JoinCallback
    ) -> CoordinatorResult[None]:
        if group.is_in(_DEAD):
            respond(JoinGroupResponse(error=ErrorCode.coordinator_not_available, member_id=UNKNOWN_MEMBER_ID))
            return EMPTY_RESULT
        if not group.supports_protocols(request.protocol_type, {name for name, _ in request.protocols}):
            respond(
                JoinGroupResponse(error=ErrorCode.inconsistent_group_protocol, member_id=UNKNOWN_MEMBER_ID)
            )
            return EMPTY_RESULT
        new_member_id = group.generate_member_id(request.client_id, request.group_instance_id)
        if request.group_instance_id is not None:
            existing = group.static_members.get(request.group_instance_id)
            if existing is not None:
                logger.info(
                    "Static member %s of group %s rejoins in state %s; member %s replaces %s",
                    request.group_instance_id,
                    group.group_id,
                    group.state_name(),
                    new_member_id,
                    existing,
                )
                return self._update_static_member(request, group, existing, new_member_id, respond)
            return self._add_member_then_rebalance(request, group, new_member_id, respond)
        if request.api_version >= 4:
            # KIP-394: hand out the id first; the member joins with it in a second request,
            # and is forgotten if it does not come back within its session timeout.
            group.pending_join_members.add(new_member_id)
            self.timer.schedule(
                heartbeat_key(group.group_id, new_member_id),
                request.session_timeout_ms,
                lambda: self._expire_heartbeat(group.group_id, new_member_id),
            )
            respond(JoinGroupResponse(error=ErrorCode.member_id_required, member_id=new_member_id))
            return EMPTY_RESULT
        return self._add_member_then_rebalance(request, group, new_member_id, respond)

    def _join_existing_member(
        self, request: JoinGroupRequest, group: ClassicGroup, respond: JoinCallback
    ) -> CoordinatorResult[None]:
        member_id = request.member_id
        if group.is_in(_DEAD):
            respond(JoinGroupResponse(error=ErrorCode.coordinator_not_available, member_id=member_id))
            return EMPTY_RESULT
        if not group.supports_protocols(request.protocol_type, {name for name, _ in request.protocols}):
            respond(JoinGroupResponse(error=ErrorCode.inconsistent_group_protocol, member_id=member_id))
            return EMPTY_RESULT
        if member_id in group.pending_join_members:
            return self._add_member_then_rebalance(request, group, member_id, respond)
        try:
            group.validate_member(member_id, request.group_instance_id)
        except BrokerError as exc:
            respond(JoinGroupResponse(error=exc.error_code, member_id=member_id))
            return EMPTY_RESULT
        member = group.member(member_id)
        if group.is_in(_PREPARING):
            return self._update_member_then_rebalance(request, group, member, respond)
        if group.is_in(_COMPLETING):
            if member.matches(request.protocols):
                # It lost the join response: answer again with the current generation.
                respond(join_response(group, member_id, with_members=group.is_leader(member_id)))
                return EMPTY_RESULT
            return self._update_member_then_rebalance(request, group, member, respond)
        if group.is_in(_STABLE):
            # A leader's rejoin always rebalances: it is how a consumer reacts to metadata
            # changes (new partitions) that leave its subscription unchanged.
            if group.is_leader(member_id) or not member.matches(request.protocols):
                return self._update_member_then_rebalance(request, group, member, respond)
            respond(join_response(group, member_id, with_members=False))
            return EMPTY_RESULT
        logger.warning(
            "member %s rejoins group %s in unexpected state %s", member_id, group.group_id, group.state_name()
        )
        respond(JoinGroupResponse(error=ErrorCode.unknown_member_id, member_id=member_id))
        return EMPTY_RESULT

    def _add_member_then_rebalance(
        self, request: JoinGroupRequest, group: ClassicGroup, member_id: str, respond: JoinCallback
    ) -> CoordinatorResult[None]:
        member = ClassicGroupMember(
            member_id=member_id,
            group_instance_id=request.group_instance_id,
            client_id=request.client_id,
            client_host=request.client_host,
            rebalance_timeout_ms=request.rebalance_timeout_ms,
            session_timeout_ms=request.session_timeout_ms,
            protocol_type=request.protocol_type,
            supported_protocols=request.protocols,
            awaiting_join=respond,
            is_new=True,
        )
        if group.is_in(_PREPARING) and group.previous_state is _EMPTY:
            group.new_member_added = True  # extends the initial rebalance delay
        group.add(member)
        # A new member cannot heartbeat while its join is parked; bound the wait instead.
        self._reschedule_heartbeat(group, member, self.config.classic_group_new_member_join_timeout_ms)
        return self._maybe_prepare_rebalance_or_complete_join(group, f"adding new member {member_id}")

    def _update_member_then_rebalance(
        self,
        request: JoinGroupRequest,
        group: ClassicGroup,
        member: ClassicGroupMember,
        respond: JoinCallback,
    ) -> CoordinatorResult[None]:
        group.update_member(
            member,
            protocols=request.protocols,
            rebalance_timeout_ms=request.rebalance_timeout_ms,
            session_timeout_ms=request.session_timeout_ms,
        )
        _park_join(member, respond)
        return self._maybe_prepare_rebalance_or_complete_join(group, f"member {member.member_id} rejoins")

    def _update_static_member(
        self,
        request: JoinGroupRequest,
        group: ClassicGroup,
        old_member_id: str,
        new_member_id: str,
        respond: JoinCallback,
    ) -> CoordinatorResult[None]:
        instance_id = request.group_instance_id
        assert instance_id is not None
        current_leader = group.leader_id or UNKNOWN_MEMBER_ID
        member = group.replace_static_member(instance_id, old_member_id, new_member_id)
        self._reschedule_heartbeat(group, member)
        old = (member.supported_protocols, member.rebalance_timeout_ms, member.session_timeout_ms)
        group.update_member(
            member,
            protocols=request.protocols,
            rebalance_timeout_ms=request.rebalance_timeout_ms,
            session_timeout_ms=request.session_timeout_ms,
        )
        member.awaiting_join = respond
        if group.is_in(_STABLE):
            if group.protocol_name != group.select_protocol():
                return self._maybe_prepare_rebalance_or_complete_join(
                    group, f"static member {instance_id} rejoins with a change of protocol"
                )
            # Unchanged protocol: no rebalance; the new instance keeps the old assignment.
            assignments = {m.member_id: m.assignment for m in group.members.values()}

            def on_committed(error: ErrorCode) -> None:
                if error != ErrorCode.none:
                    # Not stored: undo the replacement and tell the new instance to retry.
                    member.awaiting_join = None
                    group.update_member(
                        member, protocols=old[0], rebalance_timeout_ms=old[1], session_timeout_ms=old[2]
                    )
                    restored = group.replace_static_member(instance_id, new_member_id, old_member_id)
                    self._reschedule_heartbeat(group, restored)
                    respond(
                        JoinGroupResponse(
                            error=append_error_to_response_error(error),
                            member_id=UNKNOWN_MEMBER_ID,
                            generation_id=group.generation_id,
                            protocol_type=group.protocol_type,
                            protocol_name=group.protocol_name,
                            leader=current_leader,
                        )
                    )
                elif request.api_version >= 9:
                    # KIP-814: a static leader is told who it is but need not reassign.
                    is_leader = group.is_leader(new_member_id)
                    member.complete_join(
                        join_response(group, new_member_id, with_members=is_leader, skip_assignment=is_leader)
                    )
                else:
                    # Older clients would reassign as leader; naming the old leader id keeps
                    # the new instance a follower that just syncs its old assignment.
                    member.complete_join(
                        JoinGroupResponse(
                            error=ErrorCode.none,
                            member_id=new_member_id,
                            generation_id=group.generation_id,
                            protocol_type=group.protocol_type,
                            protocol_name=group.protocol_name,
                            leader=current_leader,
                        )
                    )

            return CoordinatorResult(
                records=[group.metadata_record(assignments)], on_committed=on_committed, replay=False
            )
        if group.is_in(_COMPLETING):
            # The leader may already have assigned to the old member id: rebalance again.
            return self._prepare_rebalance(group, f"static member {instance_id} rejoins during sync")
        return self._maybe_complete_join_phase(group)


def _park_join(member: ClassicGroupMember, respond: JoinCallback) -> None:
    """Park ``respond``; a join already parked for this member (a retry) is told to rejoin."""
    previous, member.awaiting_join = member.awaiting_join, respond
    if previous is not None and previous is not respond:
        previous(JoinGroupResponse(error=ErrorCode.rebalance_in_progress, member_id=member.member_id))
