"""The rebalance mechanics of classic groups: generations, timers, member expiry.

Kafka's ``GroupMetadataManager`` around ``prepareRebalance``/``completeClassicGroupJoin``:

1. A rebalance completes when every known member has rejoined, or when the rebalance timeout
   (the largest ``rebalance_timeout_ms`` of the members) passes. The first rebalance of an
   empty group waits ``group.initial.rebalance.delay.ms`` more, extended while new members
   keep arriving, so a group starting up rebalances once, not once per member.
2. Completing the join removes the dynamic members that did not rejoin, bumps the generation,
   selects the protocol and answers every parked join; the leader's answer lists the members'
   subscriptions. The group then waits in CompletingRebalance for SyncGroups (`manager`);
   members that do not sync within the rebalance timeout are removed.
3. Every member has a heartbeat timer (its session timeout; five minutes for a new member
   parked in its first join). A member whose timer fires while it is not parked is removed
   and the group rebalances.

The base of `classic.join.ClassicJoin` and `classic.manager.ClassicGroupManager`; its timer
operations run through the coordinator runtime like requests.
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
)
from brook_broker.coordinator.group.messages import (
    UNKNOWN_MEMBER_ID,
    JoinCallback,
    JoinGroupResponse,
    SyncGroupResponse,
)
from brook_broker.coordinator.group.store import GroupStore
from brook_broker.protocol.errors import ErrorCode

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


def join_response(
    group: ClassicGroup, member_id: str, *, with_members: bool, skip_assignment: bool = False
) -> JoinGroupResponse:
    """A successful JoinGroup answer for the current generation; the leader's lists the members."""
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
                join_response(group, member.member_id, with_members=group.is_leader(member.member_id))
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
