"""The group coordinator's requests and responses, independent of wire versions.

`apis/groups.py` and `apis/offsets.py` translate kio's per-version classes into these and
back; the coordinator never sees a wire version except where Kafka's semantics depend on it
(``api_version`` on joins and commits). Fields carry Kafka's names in snake case.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from brook_broker.protocol.errors import ErrorCode

#: A member's supported protocols in its order of preference: ``(name, metadata)``.
ProtocolList = tuple[tuple[str, bytes], ...]

#: Kafka's UNKNOWN_MEMBER_ID / NO_LEADER: the empty string.
UNKNOWN_MEMBER_ID = ""


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class JoinGroupRequest:
    group_id: str
    member_id: str
    group_instance_id: str | None
    protocol_type: str
    protocols: ProtocolList
    session_timeout_ms: int
    rebalance_timeout_ms: int
    client_id: str
    client_host: str
    api_version: int
    reason: str | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class JoinGroupMember:
    member_id: str
    group_instance_id: str | None
    metadata: bytes


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class JoinGroupResponse:
    error: ErrorCode
    member_id: str
    generation_id: int = -1
    protocol_type: str | None = None
    protocol_name: str | None = None
    leader: str = UNKNOWN_MEMBER_ID
    members: tuple[JoinGroupMember, ...] = ()
    skip_assignment: bool = False


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class SyncGroupRequest:
    group_id: str
    generation_id: int
    member_id: str
    group_instance_id: str | None
    protocol_type: str | None
    protocol_name: str | None
    assignments: tuple[tuple[str, bytes], ...]


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class SyncGroupResponse:
    error: ErrorCode
    protocol_type: str | None = None
    protocol_name: str | None = None
    assignment: bytes = b""


JoinCallback = Callable[[JoinGroupResponse], None]
SyncCallback = Callable[[SyncGroupResponse], None]


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class HeartbeatRequest:
    group_id: str
    generation_id: int
    member_id: str
    group_instance_id: str | None


@dataclasses.dataclass(frozen=True, slots=True)
class LeavingMember:
    member_id: str
    group_instance_id: str | None = None
    reason: str | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class LeftMember:
    member_id: str
    group_instance_id: str | None
    error: ErrorCode


@dataclasses.dataclass(frozen=True, slots=True)
class LeaveGroupResponse:
    error: ErrorCode
    members: tuple[LeftMember, ...] = ()


@dataclasses.dataclass(frozen=True, slots=True)
class DescribedMember:
    member_id: str
    group_instance_id: str | None
    client_id: str
    client_host: str
    metadata: bytes
    assignment: bytes


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class DescribedGroup:
    group_id: str
    error: ErrorCode = ErrorCode.none
    error_message: str | None = None
    state: str = ""
    protocol_type: str = ""
    protocol_data: str = ""
    members: tuple[DescribedMember, ...] = ()


# --- offsets --------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class CommitPartition:
    topic: str
    partition: int
    offset: int
    leader_epoch: int = -1
    metadata: str | None = None


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class OffsetCommitRequest:
    group_id: str
    member_id: str
    group_instance_id: str | None
    generation_id: int
    partitions: tuple[CommitPartition, ...]
    #: OffsetCommit v2-v4; -1 means "the broker's offsets.retention.minutes".
    retention_time_ms: int = -1
    api_version: int = 9


@dataclasses.dataclass(frozen=True, slots=True)
class PartitionError:
    topic: str
    partition: int
    error: ErrorCode


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class FetchedOffset:
    topic: str
    partition: int
    offset: int = -1
    leader_epoch: int = -1
    metadata: str = ""
    error: ErrorCode = ErrorCode.none


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class OffsetFetchRequest:
    group_id: str
    #: ``None`` asks for every committed offset of the group.
    partitions: tuple[tuple[str, int], ...] | None
    member_id: str | None = None
    member_epoch: int = -1
    require_stable: bool = False


@dataclasses.dataclass(frozen=True, slots=True)
class OffsetFetchResponse:
    group_id: str
    error: ErrorCode = ErrorCode.none
    offsets: tuple[FetchedOffset, ...] = ()
