"""The join phase of classic groups: JoinGroup, rebalances, generations and member expiry.

Kafka's ``GroupMetadataManager.classicGroupJoin*`` and the timers around it, in four rules:

1. A JoinGroup parks until the rebalance completes (all known members rejoined, or the
   rebalance timeout — the largest ``rebalance_timeout_ms`` of the members — passed). The
   first rebalance of an empty group waits ``group.initial.rebalance.delay.ms`` more, extended
   while new members keep arriving, so a group starting up rebalances once, not per member.
2. Completing the join removes the dynamic members that did not rejoin, bumps the generation,
   selects the protocol and answers every parked join; the leader's answer lists the members'
   subscriptions. The group then waits in CompletingRebalance for SyncGroups (`manager`).
3. Every member has a heartbeat timer (its session timeout; five minutes for a new member
   parked in its first join). A member whose timer fires while it is not parked is removed
   and the group rebalances.
4. Dynamic members join in two steps from JoinGroup v4 (KIP-394, MEMBER_ID_REQUIRED); a static
   member (``group.instance.id``, KIP-345) rejoining a Stable group with unchanged protocols
   takes over its old member id and assignment without a rebalance and fences the old instance.

Called by `classic.manager.ClassicGroupManager` (this is its base class) and by timers.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from brook_broker.coordinator.group.classic.group import ClassicGroup, ClassicGroupState
from brook_broker.coordinator.group.classic.member import EMPTY_ASSIGNMENT, ClassicGroupMember
from brook_broker.coordinator.group.common import (
    EMPTY_RESULT,
    CoordinatorResult,
    GroupConfig,
    Timer,
    append_error_to_response_error,
)
from brook_broker.coordinator.group.messages import (
    UNKNOWN_MEMBER_ID,
    JoinCallback,
    JoinGroupRequest,
    JoinGroupResponse,
    SyncGroupResponse,
)
from brook_broker.coordinator.group.records import CoordinatorRecord, GroupMetadataKey, GroupMetadataValue
from brook_broker.coordinator.group.store import GroupStore
from brook_broker.protocol.errors import BrokerError, ErrorCode

logger = logging.getLogger(__name__)

_EMPTY = ClassicGroupState.EMPTY
_PREPARING = ClassicGroupState.PREPARING_REBALANCE
_COMPLETING = ClassicGroupState.COMPLETING_REBALANCE
_STABLE = ClassicGroupState.STABLE
_DEAD = ClassicGroupState.DEAD


def heartbeat_key(group_id: str, member_id: str) -> str:
    return f"heartbeat-{group_id}-{member_id}"


def join_key(group_id: str) -> str:
    return f"join-{group_id}"


def sync_key(group_id: str) -> str:
    return f"sync-{group_id}"


def once(callback: Callable[[JoinGroupResponse], None]) -> JoinCallback:
    """A response callback that only its first call reaches (Kafka completes a future once)."""
    done = False

    def respond(response: JoinGroupResponse) -> None:
        nonlocal done
        if not done:
            done = True
            callback(response)

    return respond


class ClassicRebalance:
    def __init__(
        self, *, groups: GroupStore, timer: Timer, config: GroupConfig, time_ms: Callable[[], int]
    ) -> None:
        self.groups = groups
        self.timer = timer
        self.config = config
        self.time_ms = time_ms

    def _classic(self, group_id: str) -> ClassicGroup | None:
        group = self.groups.get(group_id)
        return group if isinstance(group, ClassicGroup) else None

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
                respond(self._join_response(group, member_id, with_members=group.is_leader(member_id)))
                return EMPTY_RESULT
            return self._update_member_then_rebalance(request, group, member, respond)
        if group.is_in(_STABLE):
            # A leader's rejoin always rebalances: it is how a consumer reacts to metadata
            # changes (new partitions) that leave its subscription unchanged.
            if group.is_leader(member_id) or not member.matches(request.protocols):
                return self._update_member_then_rebalance(request, group, member, respond)
            respond(self._join_response(group, member_id, with_members=False))
            return EMPTY_RESULT
        logger.warning(
            "member %s rejoins group %s in unexpected state %s", member_id, group.group_id, group.state_name()
        )
        respond(JoinGroupResponse(error=ErrorCode.unknown_member_id, member_id=member_id))
        return EMPTY_RESULT

    @staticmethod
    def _join_response(
        group: ClassicGroup, member_id: str, *, with_members: bool, skip_assignment: bool = False
    ) -> JoinGroupResponse:
        return JoinGroupResponse(
            error=ErrorCode.none,
            member_id=member_id,
            generation_id=group.generation_id,
            protocol_type=group.protocol_type,
            protocol_name=group.protocol_name,
            leader=group.leader_id or UNKNOWN_MEMBER_ID,
            members=group.current_members() if with_members else (),
            skip_assignment=skip_assignment,
        )

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
                        self._join_response(
                            group, new_member_id, with_members=is_leader, skip_assignment=is_leader
                        )
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

    # --- rebalancing ------------------------------------------------------------------------

    def _maybe_prepare_rebalance_or_complete_join(
        self, group: ClassicGroup, reason: str
    ) -> CoordinatorResult[None]:
        if group.can_rebalance():
            return self._prepare_rebalance(group, reason)
        return self._maybe_complete_join_phase(group)

    def _prepare_rebalance(self, group: ClassicGroup, reason: str) -> CoordinatorResult[None]:
        if group.is_in(_COMPLETING):
            # Members waiting for an assignment will never get this generation's: rejoin.
            self._propagate_assignment(group, ErrorCode.rebalance_in_progress, reset=True)
        self._remove_sync_expiration(group)
        initial = group.is_empty()
        if initial:
            delay = self.config.classic_group_initial_rebalance_delay_ms
            remaining = max(group.rebalance_timeout_ms() - delay, 0)
            group_id = group.group_id
            self.timer.schedule(
                join_key(group_id),
                delay,
                lambda: self._try_complete_initial_rebalance(group_id, delay, remaining),
            )
        group.transition_to(_PREPARING)
        logger.info(
            "Preparing to rebalance group %s with old generation %d (reason: %s)",
            group.group_id,
            group.generation_id,
            reason,
        )
        return EMPTY_RESULT if initial else self._maybe_complete_join_else_schedule(group)

    def _maybe_complete_join_else_schedule(self, group: ClassicGroup) -> CoordinatorResult[None]:
        if group.has_all_members_joined():
            return self._complete_join(group)
        group_id = group.group_id
        self.timer.schedule(
            join_key(group_id), group.rebalance_timeout_ms(), lambda: self._complete_join_by_id(group_id)
        )
        return EMPTY_RESULT

    def _try_complete_initial_rebalance(
        self, group_id: str, delay_ms: int, remaining_ms: int
    ) -> CoordinatorResult[None]:
        group = self._classic(group_id)
        if group is None:
            return EMPTY_RESULT
        if group.new_member_added and remaining_ms != 0:
            group.new_member_added = False
            new_delay = min(self.config.classic_group_initial_rebalance_delay_ms, remaining_ms)
            new_remaining = max(remaining_ms - delay_ms, 0)
            self.timer.schedule(
                join_key(group_id),
                new_delay,
                lambda: self._try_complete_initial_rebalance(group_id, new_delay, new_remaining),
            )
            return EMPTY_RESULT
        return self._complete_join(group)

    def _maybe_complete_join_phase(self, group: ClassicGroup) -> CoordinatorResult[None]:
        # An initial rebalance always waits for its delay timer.
        if (
            not group.is_in(_PREPARING)
            or group.previous_state is _EMPTY
            or not group.has_all_members_joined()
        ):
            return EMPTY_RESULT
        return self._complete_join(group)

    def _complete_join_by_id(self, group_id: str) -> CoordinatorResult[None]:
        group = self._classic(group_id)
        return EMPTY_RESULT if group is None else self._complete_join(group)

    def _complete_join(self, group: ClassicGroup) -> CoordinatorResult[None]:
        group_id = group.group_id
        self.timer.cancel(join_key(group_id))
        failed = [m for m in group.not_yet_rejoined() if not m.is_static]
        for member in failed:
            self._remove_member(group, member)
        if failed:
            logger.info(
                "Group %s removed dynamic members that did not rejoin: %s",
                group_id,
                [m.member_id for m in failed],
            )
        if group.is_in(_DEAD):
            return EMPTY_RESULT
        if not group.maybe_elect_new_joined_leader() and group.members:
            # Only static members that did not rejoin are left: wait for them (or their sessions).
            logger.info("Group %s cannot complete its rebalance: no member rejoined", group_id)
            self.timer.schedule(
                join_key(group_id), group.rebalance_timeout_ms(), lambda: self._complete_join_by_id(group_id)
            )
            return EMPTY_RESULT
        group.init_next_generation()
        if group.is_empty():
            logger.info("Group %s with generation %d is now empty", group_id, group.generation_id)

            def on_committed(error: ErrorCode) -> None:
                if error != ErrorCode.none:
                    logger.warning("Failed to write empty metadata for group %s: %s", group_id, error.name)

            return CoordinatorResult(
                records=[group.metadata_record({})], on_committed=on_committed, replay=False
            )
        logger.info(
            "Stabilized group %s generation %d (protocol %s) with %d member(s)",
            group_id,
            group.generation_id,
            group.protocol_name,
            len(group.members),
        )
        for member in list(group.members.values()):
            member.complete_join(
                self._join_response(group, member.member_id, with_members=group.is_leader(member.member_id))
            )
            self._reschedule_heartbeat(group, member)
            member.is_new = False
            group.pending_sync_members.add(member.member_id)
        self._schedule_pending_sync(group)
        return EMPTY_RESULT

    # --- timers -----------------------------------------------------------------------------

    def _reschedule_heartbeat(
        self, group: ClassicGroup, member: ClassicGroupMember, timeout_ms: int | None = None
    ) -> None:
        group_id, member_id = group.group_id, member.member_id
        self.timer.schedule(
            heartbeat_key(group_id, member_id),
            member.session_timeout_ms if timeout_ms is None else timeout_ms,
            lambda: self._expire_heartbeat(group_id, member_id),
        )

    def _expire_heartbeat(self, group_id: str, member_id: str) -> CoordinatorResult[None]:
        group = self._classic(group_id)
        if group is None or group.is_in(_DEAD):
            return EMPTY_RESULT
        if member_id in group.pending_join_members:
            logger.info("Pending member %s of group %s expired before joining", member_id, group_id)
            group.remove(member_id)
            if group.is_in(_PREPARING) and group.has_all_members_joined():
                return self._complete_join(group)
            return EMPTY_RESULT
        member = group.members.get(member_id)
        if member is None or member.has_satisfied_heartbeat():
            return EMPTY_RESULT
        logger.info("Member %s of group %s has failed (session timeout), removing it", member_id, group_id)
        return self._remove_member_and_rebalance(group, member, f"member {member_id} session timed out")

    def _remove_member_and_rebalance(
        self, group: ClassicGroup, member: ClassicGroupMember, reason: str
    ) -> CoordinatorResult[None]:
        self._remove_member(group, member)
        if group.is_in(_STABLE, _COMPLETING):
            return self._maybe_prepare_rebalance_or_complete_join(group, reason)
        if group.is_in(_PREPARING) and group.has_all_members_joined():
            return self._complete_join(group)
        return EMPTY_RESULT

    def _remove_member(self, group: ClassicGroup, member: ClassicGroupMember) -> None:
        # A parked request of a removed member is answered, so that its client rejoins.
        member.complete_join(
            JoinGroupResponse(error=ErrorCode.unknown_member_id, member_id=UNKNOWN_MEMBER_ID)
        )
        member.complete_sync(SyncGroupResponse(error=ErrorCode.unknown_member_id))
        group.remove(member.member_id)
        self.timer.cancel(heartbeat_key(group.group_id, member.member_id))

    def _schedule_pending_sync(self, group: ClassicGroup) -> None:
        group_id, generation = group.group_id, group.generation_id
        self.timer.schedule(
            sync_key(group_id),
            group.rebalance_timeout_ms(),
            lambda: self._expire_pending_sync(group_id, generation),
        )

    def _remove_sync_expiration(self, group: ClassicGroup) -> None:
        group.pending_sync_members.clear()
        self.timer.cancel(sync_key(group.group_id))

    def _expire_pending_sync(self, group_id: str, generation_id: int) -> CoordinatorResult[None]:
        group = self._classic(group_id)
        if group is None or generation_id != group.generation_id or not group.is_in(_COMPLETING, _STABLE):
            return EMPTY_RESULT
        if not group.pending_sync_members:
            return EMPTY_RESULT
        missing = sorted(group.pending_sync_members)
        for member_id in missing:
            self._remove_member(group, group.member(member_id))
        logger.info("Group %s removed members that did not send SyncGroup in time: %s", group_id, missing)
        return self._prepare_rebalance(group, f"members {missing} did not sync in time")

    # --- assignment propagation -------------------------------------------------------------

    def _propagate_assignment(
        self,
        group: ClassicGroup,
        error: ErrorCode,
        *,
        reset: bool = False,
        assignments: dict[str, bytes] | None = None,
    ) -> None:
        """Answer every parked SyncGroup; on error (``reset``) assignments are cleared first."""
        for member in group.members.values():
            if reset:
                member.assignment = EMPTY_ASSIGNMENT
            elif assignments is not None:
                member.assignment = assignments.get(member.member_id, EMPTY_ASSIGNMENT)
        ok = error == ErrorCode.none
        for member in list(group.members.values()):
            response = SyncGroupResponse(
                error=error,
                protocol_type=group.protocol_type if ok else None,
                protocol_name=group.protocol_name if ok else None,
                assignment=member.assignment,
            )
            if member.complete_sync(response):
                # Expirations that fired while the member was parked were ignored: restart its session.
                self._reschedule_heartbeat(group, member)


def _park_join(member: ClassicGroupMember, respond: JoinCallback) -> None:
    """Park ``respond``; a join already parked for this member (a retry) is told to rejoin."""
    previous, member.awaiting_join = member.awaiting_join, respond
    if previous is not None and previous is not respond:
        previous(JoinGroupResponse(error=ErrorCode.rebalance_in_progress, member_id=member.member_id))
