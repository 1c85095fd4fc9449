"""`ClassicGroupMember`: one member of a classic group (Kafka's ``ClassicGroupMember``).

A member is parked in at most one request at a time: a JoinGroup waiting for the rebalance
to complete (`awaiting_join`) or a SyncGroup waiting for the leader's assignment
(`awaiting_sync`). Both are plain callbacks, so the state machine stays free of asyncio; the
API layer turns them into futures. Owned and mutated by `classic.group.ClassicGroup`.
"""

from __future__ import annotations

import dataclasses

from brook_broker.coordinator.group.messages import (
    DescribedMember,
    JoinCallback,
    JoinGroupResponse,
    ProtocolList,
    SyncCallback,
    SyncGroupResponse,
)

EMPTY_ASSIGNMENT = b""


@dataclasses.dataclass(eq=False, slots=True, kw_only=True)
class ClassicGroupMember:
    member_id: str
    group_instance_id: str | None
    client_id: str
    client_host: str
    rebalance_timeout_ms: int
    session_timeout_ms: int
    protocol_type: str
    supported_protocols: ProtocolList
    assignment: bytes = EMPTY_ASSIGNMENT
    awaiting_join: JoinCallback | None = None
    awaiting_sync: SyncCallback | None = None
    #: Set from the join that created the member until its first join completes: such a
    #: member has no member id to heartbeat with, so its session may expire while it waits.
    is_new: bool = False

    @property
    def is_static(self) -> bool:
        return self.group_instance_id is not None

    @property
    def is_awaiting_join(self) -> bool:
        return self.awaiting_join is not None

    @property
    def is_awaiting_sync(self) -> bool:
        return self.awaiting_sync is not None

    def protocol_names(self) -> set[str]:
        return {name for name, _ in self.supported_protocols}

    def metadata(self, protocol_name: str) -> bytes:
        for name, metadata in self.supported_protocols:
            if name == protocol_name:
                return metadata
        raise ValueError(f"member {self.member_id} does not support protocol {protocol_name}")

    def matches(self, protocols: ProtocolList) -> bool:
        """Same protocols with the same metadata in the same order: a rejoin that changes nothing."""
        return protocols == self.supported_protocols

    def vote(self, candidates: set[str]) -> str:
        """The member's most preferred protocol among ``candidates`` (every member supports them)."""
        for name, _ in self.supported_protocols:
            if name in candidates:
                return name
        raise ValueError(f"member {self.member_id} supports none of {sorted(candidates)}")

    def has_satisfied_heartbeat(self) -> bool:
        # A member parked in a join or sync cannot heartbeat and counts as alive, except a
        # new member, whose parked join is bounded by the new-member join timeout instead.
        if self.is_new:
            return False
        return self.is_awaiting_join or self.is_awaiting_sync

    def complete_join(self, response: JoinGroupResponse) -> bool:
        callback, self.awaiting_join = self.awaiting_join, None
        if callback is None:
            return False
        callback(response)
        return True

    def complete_sync(self, response: SyncGroupResponse) -> bool:
        callback, self.awaiting_sync = self.awaiting_sync, None
        if callback is None:
            return False
        callback(response)
        return True

    def describe(self, protocol_name: str | None) -> DescribedMember:
        """DescribeGroups' view; the subscription metadata only when a protocol is selected (Stable)."""
        return DescribedMember(
            member_id=self.member_id,
            group_instance_id=self.group_instance_id,
            client_id=self.client_id,
            client_host=self.client_host,
            metadata=self.metadata(protocol_name) if protocol_name is not None else b"",
            assignment=self.assignment,
        )
