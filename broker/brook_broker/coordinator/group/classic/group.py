"""`ClassicGroup`: the members, generation and state of one classic group (Kafka's ``ClassicGroup``).

States and their transitions (Kafka's ``ClassicGroupState``)::

    Empty --join--> PreparingRebalance --all joined / timeout--> CompletingRebalance
    CompletingRebalance --leader's SyncGroup stored--> Stable
    Stable | CompletingRebalance --join with new metadata, leave, failure--> PreparingRebalance
    PreparingRebalance --last member gone--> Empty;   any --deleted / unloaded--> Dead

This class keeps the bookkeeping (who is a member, who is awaiting a join or a sync, which
protocol wins the vote) and answers the `group.Group` questions the offsets store asks. The
decisions — when to rebalance, which timers to set, what to write — are taken by
`classic.manager.ClassicGroupManager`, which owns the groups' timers.
"""

from __future__ import annotations

import enum
import struct
import uuid
from collections import Counter
from collections.abc import Callable

from brook_broker.coordinator.group.classic.member import ClassicGroupMember
from brook_broker.coordinator.group.common import group_error
from brook_broker.coordinator.group.group import ExpirationBase, GroupType, ListedGroup
from brook_broker.coordinator.group.messages import (
    JoinGroupMember,
    JoinGroupResponse,
    ProtocolList,
    SyncGroupResponse,
)
from brook_broker.coordinator.group.records import (
    CoordinatorRecord,
    GroupMetadataKey,
    GroupMetadataValue,
    MemberMetadata,
)
from brook_broker.protocol.errors import ErrorCode

#: The protocol type of Kafka's consumers; other types (Connect, Streams...) are opaque to us.
CONSUMER_PROTOCOL_TYPE = "consumer"


class ClassicGroupState(enum.Enum):
    EMPTY = "Empty"
    PREPARING_REBALANCE = "PreparingRebalance"
    COMPLETING_REBALANCE = "CompletingRebalance"
    STABLE = "Stable"
    DEAD = "Dead"


_VALID_PREVIOUS: dict[ClassicGroupState, frozenset[ClassicGroupState]] = {
    ClassicGroupState.EMPTY: frozenset({ClassicGroupState.PREPARING_REBALANCE}),
    ClassicGroupState.PREPARING_REBALANCE: frozenset(
        {ClassicGroupState.STABLE, ClassicGroupState.COMPLETING_REBALANCE, ClassicGroupState.EMPTY}
    ),
    ClassicGroupState.COMPLETING_REBALANCE: frozenset({ClassicGroupState.PREPARING_REBALANCE}),
    ClassicGroupState.STABLE: frozenset({ClassicGroupState.COMPLETING_REBALANCE}),
    ClassicGroupState.DEAD: frozenset(ClassicGroupState),
}


class ClassicGroup:
    def __init__(
        self,
        group_id: str,
        *,
        time_ms: Callable[[], int],
        state: ClassicGroupState = ClassicGroupState.EMPTY,
        generation_id: int = 0,
        protocol_type: str | None = None,
        protocol_name: str | None = None,
        leader_id: str | None = None,
        current_state_timestamp: int | None = None,
    ) -> None:
        self._group_id = group_id
        self._time_ms = time_ms
        self.state = state
        self.previous_state = state
        self.generation_id = generation_id
        self.protocol_type = protocol_type
        self.protocol_name = protocol_name
        self.leader_id = leader_id
        self.current_state_timestamp = current_state_timestamp
        self.members: dict[str, ClassicGroupMember] = {}
        #: group.instance.id -> member id of the static members.
        self.static_members: dict[str, str] = {}
        #: Dynamic members given an id by MEMBER_ID_REQUIRED that have not joined with it yet.
        self.pending_join_members: set[str] = set()
        #: Members of the new generation that have not sent their SyncGroup yet.
        self.pending_sync_members: set[str] = set()
        #: While an initial rebalance is delayed: did a member join since the delay started?
        self.new_member_added = False
        self._supported_protocols: Counter[str] = Counter()
        self.subscribed_topics: set[str] | None = None

    # --- the Group protocol ---------------------------------------------------------------

    @property
    def group_id(self) -> str:
        return self._group_id

    @property
    def type(self) -> GroupType:
        return GroupType.CLASSIC

    def state_name(self) -> str:
        return self.state.value

    def is_empty(self) -> bool:
        return self.state is ClassicGroupState.EMPTY

    def is_in(self, *states: ClassicGroupState) -> bool:
        return self.state in states

    def validate_offset_commit(
        self, *, member_id: str, group_instance_id: str | None, generation_id: int, api_version: int
    ) -> None:
        del api_version  # the classic rules are the same at every version
        if self.is_in(ClassicGroupState.DEAD):
            raise group_error(ErrorCode.coordinator_not_available)
        if generation_id < 0 and self.is_empty():
            return  # a "simple" commit: standalone consumers and admin tools
        if generation_id >= 0 or member_id or group_instance_id is not None:
            self.validate_member(member_id, group_instance_id)
            if generation_id != self.generation_id:
                raise group_error(ErrorCode.illegal_generation)
        elif not self.is_empty():
            raise group_error(ErrorCode.unknown_member_id)
        if self.is_in(ClassicGroupState.COMPLETING_REBALANCE):
            raise group_error(ErrorCode.rebalance_in_progress)

    def validate_offset_fetch(self, *, member_id: str | None, member_epoch: int) -> None:
        if self.is_in(ClassicGroupState.DEAD):
            raise group_error(ErrorCode.group_id_not_found, f"Group {self.group_id} is in dead state.")

    def validate_offset_delete(self) -> None:
        if self.is_in(ClassicGroupState.DEAD):
            raise group_error(ErrorCode.group_id_not_found, f"Group {self.group_id} is in dead state.")
        if not self.is_empty() and not self.uses_consumer_protocol():
            raise group_error(ErrorCode.non_empty_group)

    def validate_delete_group(self) -> None:
        if self.is_in(ClassicGroupState.DEAD):
            raise group_error(ErrorCode.group_id_not_found, f"Group {self.group_id} is in dead state.")
        if not self.is_empty():
            raise group_error(ErrorCode.non_empty_group)

    def is_subscribed_to_topic(self, topic: str) -> bool:
        # Without a parsable consumer subscription Kafka assumes the worst for consumer groups.
        if self.subscribed_topics is None:
            return self.uses_consumer_protocol()
        return topic in self.subscribed_topics

    def offset_expiration_base(self) -> ExpirationBase | None:
        if self.protocol_type is None:
            # A "simple" group (commits only): each offset ages from its own commit.
            return lambda offset: offset.commit_timestamp_ms
        if self.is_empty():
            # An empty group's offsets age from when it became empty (KIP-211).
            since = self.current_state_timestamp
            return lambda offset: offset.commit_timestamp_ms if since is None else since
        return None

    def tombstones(self) -> list[CoordinatorRecord]:
        return [CoordinatorRecord(GroupMetadataKey(self.group_id), None)]

    def as_listed_group(self) -> ListedGroup:
        return ListedGroup(
            group_id=self.group_id,
            protocol_type=self.protocol_type or "",
            group_state=self.state_name(),
            group_type=GroupType.CLASSIC.value,
        )

    # --- membership -----------------------------------------------------------------------

    def uses_consumer_protocol(self) -> bool:
        return self.protocol_type == CONSUMER_PROTOCOL_TYPE

    def has_member(self, member_id: str) -> bool:
        return member_id in self.members

    def member(self, member_id: str) -> ClassicGroupMember:
        return self.members[member_id]

    def is_leader(self, member_id: str) -> bool:
        return self.leader_id == member_id

    def add(self, member: ClassicGroupMember) -> None:
        if member.group_instance_id is not None:
            if member.group_instance_id in self.static_members:
                raise ValueError(f"static member {member.group_instance_id} is already in {self.group_id}")
            self.static_members[member.group_instance_id] = member.member_id
        if not self.members:
            self.protocol_type = member.protocol_type
        if member.protocol_type != self.protocol_type:
            raise ValueError("the group and member's protocol type must be the same")
        if self.leader_id is None:
            self.leader_id = member.member_id
        self.members[member.member_id] = member
        self._supported_protocols.update(member.protocol_names())
        self.pending_join_members.discard(member.member_id)

    def remove(self, member_id: str) -> None:
        member = self.members.pop(member_id, None)
        if member is not None:
            self._supported_protocols.subtract(member.protocol_names())
            if member.group_instance_id is not None:
                self.static_members.pop(member.group_instance_id, None)
        if self.is_leader(member_id):
            self.leader_id = next(iter(self.members), None)
        self.pending_join_members.discard(member_id)
        self.pending_sync_members.discard(member_id)

    def update_member(
        self,
        member: ClassicGroupMember,
        *,
        protocols: ProtocolList,
        rebalance_timeout_ms: int,
        session_timeout_ms: int,
    ) -> None:
        self._supported_protocols.subtract(member.protocol_names())
        member.supported_protocols = protocols
        self._supported_protocols.update(member.protocol_names())
        member.rebalance_timeout_ms = rebalance_timeout_ms
        member.session_timeout_ms = session_timeout_ms

    def replace_static_member(
        self, group_instance_id: str, old_member_id: str, new_member_id: str
    ) -> ClassicGroupMember:
        """A static member rejoined with a new member id: it takes over the old one's place."""
        old = self.members.pop(old_member_id)
        # The old instance may still be parked in a join or sync: it is fenced.
        old.complete_join(JoinGroupResponse(error=ErrorCode.fenced_instance_id, member_id=old_member_id))
        old.complete_sync(SyncGroupResponse(error=ErrorCode.fenced_instance_id))
        new = ClassicGroupMember(
            member_id=new_member_id,
            group_instance_id=old.group_instance_id,
            client_id=old.client_id,
            client_host=old.client_host,
            rebalance_timeout_ms=old.rebalance_timeout_ms,
            session_timeout_ms=old.session_timeout_ms,
            protocol_type=old.protocol_type,
            supported_protocols=old.supported_protocols,
            assignment=old.assignment,
        )
        self.members[new_member_id] = new
        if self.is_leader(old_member_id):
            self.leader_id = new_member_id
        self.static_members[group_instance_id] = new_member_id
        return new

    def validate_member(self, member_id: str, group_instance_id: str | None) -> None:
        """UNKNOWN_MEMBER_ID, or FENCED_INSTANCE_ID when another instance holds the static id."""
        if group_instance_id is not None:
            existing = self.static_members.get(group_instance_id)
            if existing is None:
                raise group_error(ErrorCode.unknown_member_id)
            if existing != member_id:
                raise group_error(ErrorCode.fenced_instance_id)
        if member_id not in self.members:
            raise group_error(ErrorCode.unknown_member_id)

    def generate_member_id(self, client_id: str, group_instance_id: str | None) -> str:
        return f"{group_instance_id if group_instance_id is not None else client_id}-{uuid.uuid4()}"

    def awaiting_join_count(self) -> int:
        return sum(1 for m in self.members.values() if m.is_awaiting_join)

    def has_all_members_joined(self) -> bool:
        return self.awaiting_join_count() == len(self.members) and not self.pending_join_members

    def not_yet_rejoined(self) -> list[ClassicGroupMember]:
        return [m for m in self.members.values() if not m.is_awaiting_join]

    def rebalance_timeout_ms(self) -> int:
        return max((m.rebalance_timeout_ms for m in self.members.values()), default=0)

    def maybe_elect_new_joined_leader(self) -> bool:
        """Keep a leader that rejoined, else pick any member that did; False if none did."""
        if self.leader_id is None:
            return False
        if self.members[self.leader_id].is_awaiting_join:
            return True
        for member in self.members.values():
            if member.is_awaiting_join:
                self.leader_id = member.member_id
                return True
        return False

    # --- state ----------------------------------------------------------------------------

    def can_rebalance(self) -> bool:
        return self.state in _VALID_PREVIOUS[ClassicGroupState.PREPARING_REBALANCE]

    def transition_to(self, state: ClassicGroupState) -> None:
        if self.state not in _VALID_PREVIOUS[state]:
            raise RuntimeError(f"group {self.group_id} cannot move from {self.state.value} to {state.value}")
        self.previous_state, self.state = self.state, state
        self.current_state_timestamp = self._time_ms()

    def supports_protocols(self, protocol_type: str, protocols: set[str]) -> bool:
        if self.is_empty():
            return bool(protocol_type) and bool(protocols)
        return protocol_type == self.protocol_type and any(
            self._supported_protocols[name] == len(self.members) for name in protocols
        )

    def select_protocol(self) -> str:
        """Kafka's selectProtocol: among protocols every member supports, the most members' first choice."""
        candidates = {name for name, count in self._supported_protocols.items() if count == len(self.members)}
        votes = Counter(member.vote(candidates) for member in self.members.values())
        return votes.most_common(1)[0][0]

    def init_next_generation(self) -> None:
        self.generation_id += 1
        if self.members:
            self.protocol_name = self.select_protocol()
            self.subscribed_topics = self.compute_subscribed_topics()
            self.transition_to(ClassicGroupState.COMPLETING_REBALANCE)
        else:
            self.protocol_name = None
            self.subscribed_topics = self.compute_subscribed_topics()
            self.transition_to(ClassicGroupState.EMPTY)
        self.pending_sync_members.clear()

    def compute_subscribed_topics(self) -> set[str] | None:
        """The topics the members subscribe to, parsed from their consumer-protocol metadata."""
        if self.protocol_type != CONSUMER_PROTOCOL_TYPE:
            return None
        if not self.members:
            return set()
        if self.protocol_name is None:
            return None
        topics: set[str] = set()
        for member in self.members.values():
            parsed = parse_subscription_topics(member.metadata(self.protocol_name))
            if parsed is None:
                return None
            topics |= parsed
        return topics

    def current_members(self) -> tuple[JoinGroupMember, ...]:
        """What the leader gets in its JoinGroup response: every member's subscription."""
        assert self.protocol_name is not None
        return tuple(
            JoinGroupMember(m.member_id, m.group_instance_id, m.metadata(self.protocol_name))
            for m in self.members.values()
        )

    def metadata_value(self, assignments: dict[str, bytes]) -> GroupMetadataValue:
        """The GroupMetadataValue Kafka stores for this group with ``assignments``."""
        members: tuple[MemberMetadata, ...] = ()
        if self.protocol_name is not None:
            members = tuple(
                MemberMetadata(
                    member_id=m.member_id,
                    group_instance_id=m.group_instance_id,
                    client_id=m.client_id,
                    client_host=m.client_host,
                    rebalance_timeout=m.rebalance_timeout_ms,
                    session_timeout=m.session_timeout_ms,
                    subscription=m.metadata(self.protocol_name),
                    assignment=assignments.get(m.member_id, b""),
                )
                for m in self.members.values()
            )
        return GroupMetadataValue(
            protocol_type=self.protocol_type or "",
            generation=self.generation_id,
            protocol=self.protocol_name,
            leader=self.leader_id if self.protocol_name is not None else None,
            members=members,
            current_state_timestamp=-1
            if self.current_state_timestamp is None
            else self.current_state_timestamp,
        )

    def metadata_record(self, assignments: dict[str, bytes]) -> CoordinatorRecord:
        return CoordinatorRecord(GroupMetadataKey(self.group_id), self.metadata_value(assignments))


def parse_subscription_topics(metadata: bytes) -> set[str] | None:
    """Topics of a ConsumerProtocolSubscription (any version: topics come first); None if malformed."""
    try:
        (count,) = struct.unpack_from(">i", metadata, 2)  # after the int16 version
        position = 6
        topics = set()
        for _ in range(count):
            (size,) = struct.unpack_from(">h", metadata, position)
            position += 2
            if size < 0 or position + size > len(metadata):
                return None
            topics.add(metadata[position : position + size].decode())
            position += size
    except (struct.error, UnicodeDecodeError):
        return None
    return topics
