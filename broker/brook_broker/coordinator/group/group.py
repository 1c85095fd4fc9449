"""`Group`: what the offsets store and the admin APIs need from any kind of group.

Kafka's ``Group`` interface. Offsets are kept per group id independently of how the group
manages membership, so OffsetCommit/OffsetFetch/OffsetDelete/DeleteGroups and offset
expiration ask the group (classic today, KIP-848 ``consumer`` next) through this protocol:
"may this member commit with this generation?", "is anyone still consuming this topic?",
"from when do this group's offsets age?". Implemented by `classic.group.ClassicGroup`.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Callable
from typing import Protocol

from brook_broker.coordinator.group.records import CoordinatorRecord


class GroupType(enum.StrEnum):
    """The ``group_type`` of ListGroups v5 (KIP-848)."""

    CLASSIC = "classic"
    CONSUMER = "consumer"


@dataclasses.dataclass(frozen=True, slots=True)
class ListedGroup:
    group_id: str
    protocol_type: str
    group_state: str
    group_type: str


@dataclasses.dataclass(frozen=True, slots=True)
class OffsetTimestamps:
    """The times an offset's expiry is computed from (a slice of `offsets.OffsetAndMetadata`)."""

    commit_timestamp_ms: int
    expire_timestamp_ms: int  # -1: none; set only by OffsetCommit v2-v4 with a retention time


#: Maps an offset to the timestamp its retention counts from (Kafka's OffsetExpirationCondition).
ExpirationBase = Callable[[OffsetTimestamps], int]


class Group(Protocol):
    @property
    def group_id(self) -> str: ...

    @property
    def type(self) -> GroupType: ...

    def state_name(self) -> str:
        """The state as Kafka spells it in DescribeGroups and ListGroups (``Stable``, ``Empty``, ...)."""
        ...

    def is_empty(self) -> bool: ...

    def validate_offset_commit(
        self, *, member_id: str, group_instance_id: str | None, generation_id: int, api_version: int
    ) -> None:
        """Raise the Kafka error for a commit this member may not make (UNKNOWN_MEMBER_ID, ...)."""
        ...

    def validate_offset_fetch(self, *, member_id: str | None, member_epoch: int) -> None: ...

    def validate_offset_delete(self) -> None: ...

    def validate_delete_group(self) -> None: ...

    def is_subscribed_to_topic(self, topic: str) -> bool:
        """True while a member consumes ``topic``: its offsets may be neither deleted nor expired."""
        ...

    def offset_expiration_base(self) -> ExpirationBase | None:
        """How this group's offsets age; ``None`` while they must not expire at all."""
        ...

    def tombstones(self) -> list[CoordinatorRecord]:
        """The records that delete the group's own metadata (not its offsets)."""
        ...

    def as_listed_group(self) -> ListedGroup: ...


def offset_expired(offset: OffsetTimestamps, *, base: ExpirationBase, now_ms: int, retention_ms: int) -> bool:
    """Kafka's OffsetExpirationConditionImpl: an explicit expiry wins, else base + retention."""
    if offset.expire_timestamp_ms >= 0:
        return now_ms >= offset.expire_timestamp_ms
    return now_ms - base(offset) >= retention_ms
