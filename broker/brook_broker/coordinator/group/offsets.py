"""Committed offsets: the store and the OffsetCommit/OffsetFetch/OffsetDelete rules.

Kafka's ``OffsetMetadataManager``. The store maps group -> topic -> partition -> the latest
`OffsetAndMetadata` and changes only by replaying OffsetCommit records (a value commits, a
tombstone deletes), so the same code path serves live commits and loading a partition after a
restart. Nothing here knows how a group manages its members: validation goes through the
`group.Group` protocol, so KIP-848 consumer groups reuse this module unchanged.

Called by `shard.GroupCoordinatorShard`; pure (time comes from the caller's clock).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Iterator

from brook_broker.coordinator.group.common import CoordinatorResult, GroupConfig
from brook_broker.coordinator.group.group import Group, OffsetTimestamps, offset_expired
from brook_broker.coordinator.group.messages import (
    FetchedOffset,
    OffsetCommitRequest,
    OffsetFetchRequest,
    OffsetFetchResponse,
    PartitionError,
)
from brook_broker.coordinator.group.records import CoordinatorRecord, OffsetCommitKey, OffsetCommitValue
from brook_broker.coordinator.group.store import GroupStore
from brook_broker.protocol.errors import BrokerError, ErrorCode

logger = logging.getLogger(__name__)

NO_METADATA = ""


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class OffsetAndMetadata:
    committed_offset: int
    leader_epoch: int = -1
    metadata: str = NO_METADATA
    commit_timestamp_ms: int
    expire_timestamp_ms: int = -1
    #: Where the commit record sits in ``__consumer_offsets`` (KIP-848 and transactions order by it).
    record_offset: int = -1

    @property
    def timestamps(self) -> OffsetTimestamps:
        return OffsetTimestamps(self.commit_timestamp_ms, self.expire_timestamp_ms)

    @classmethod
    def from_record(cls, record_offset: int, value: OffsetCommitValue) -> OffsetAndMetadata:
        return cls(
            committed_offset=value.offset,
            leader_epoch=value.leader_epoch,
            metadata=value.metadata,
            commit_timestamp_ms=value.commit_timestamp,
            expire_timestamp_ms=value.expire_timestamp,
            record_offset=record_offset,
        )


class OffsetStore:
    def __init__(self) -> None:
        self._by_group: dict[str, dict[str, dict[int, OffsetAndMetadata]]] = {}

    def get(self, group_id: str, topic: str, partition: int) -> OffsetAndMetadata | None:
        return self._by_group.get(group_id, {}).get(topic, {}).get(partition)

    def group_offsets(self, group_id: str) -> dict[str, dict[int, OffsetAndMetadata]]:
        return self._by_group.get(group_id, {})

    def groups(self) -> Iterator[str]:
        return iter(list(self._by_group))

    def put(self, group_id: str, topic: str, partition: int, offset: OffsetAndMetadata) -> None:
        self._by_group.setdefault(group_id, {}).setdefault(topic, {})[partition] = offset

    def remove(self, group_id: str, topic: str, partition: int) -> OffsetAndMetadata | None:
        topics = self._by_group.get(group_id)
        if topics is None or topic not in topics:
            return None
        removed = topics[topic].pop(partition, None)
        if not topics[topic]:
            del topics[topic]
        if not topics:
            del self._by_group[group_id]
        return removed

    def __len__(self) -> int:
        return sum(len(p) for t in self._by_group.values() for p in t.values())


def _tombstone(group_id: str, topic: str, partition: int) -> CoordinatorRecord:
    return CoordinatorRecord(OffsetCommitKey(group_id, topic, partition), None)


class OffsetManager:
    def __init__(
        self,
        *,
        groups: GroupStore,
        config: GroupConfig,
        time_ms: Callable[[], int],
        on_member_commit: Callable[[Group, str], None],
    ) -> None:
        self.groups = groups
        self.offsets = OffsetStore()
        self.config = config
        self.time_ms = time_ms
        self._on_member_commit = on_member_commit

    # --- OffsetCommit -----------------------------------------------------------------------

    def commit_offsets(self, request: OffsetCommitRequest) -> CoordinatorResult[list[PartitionError]]:
        """Validate the committer against its group, then one OffsetCommit record per partition.

        Raises the group-level error (UNKNOWN_MEMBER_ID, ILLEGAL_GENERATION, ...) as a BrokerError.
        """
        group = self._group_for_commit(request)
        group.validate_offset_commit(
            member_id=request.member_id,
            group_instance_id=request.group_instance_id,
            generation_id=request.generation_id,
            api_version=request.api_version,
        )
        self._on_member_commit(group, request.member_id)
        now = self.time_ms()
        expire = -1 if request.retention_time_ms < 0 else now + request.retention_time_ms
        records: list[CoordinatorRecord] = []
        errors: list[PartitionError] = []
        for p in request.partitions:
            metadata = NO_METADATA if p.metadata is None else p.metadata
            if len(metadata) > self.config.offset_metadata_max_bytes:
                errors.append(PartitionError(p.topic, p.partition, ErrorCode.offset_metadata_too_large))
                continue
            errors.append(PartitionError(p.topic, p.partition, ErrorCode.none))
            value = OffsetCommitValue(
                offset=p.offset,
                metadata=metadata,
                commit_timestamp=now,
                leader_epoch=p.leader_epoch,
                expire_timestamp=expire,
            )
            records.append(CoordinatorRecord(OffsetCommitKey(request.group_id, p.topic, p.partition), value))
        return CoordinatorResult(records=records, response=errors)

    def _group_for_commit(self, request: OffsetCommitRequest) -> Group:
        group = self.groups.get(request.group_id)
        if group is not None:
            return group
        if request.generation_id < 0:
            # No group and no generation: an admin tool or a consumer without group
            # management. Kafka creates a "simple" group for it.
            logger.info("Creating simple group %s for a manual offset commit", request.group_id)
            return self.groups.classic_group(request.group_id, create=True)
        # v9 says GROUP_ID_NOT_FOUND; older clients only know ILLEGAL_GENERATION here.
        if request.api_version >= 9:
            raise BrokerError(f"Group {request.group_id} not found.", error_code=ErrorCode.group_id_not_found)
        raise BrokerError("ILLEGAL_GENERATION", error_code=ErrorCode.illegal_generation)

    # --- OffsetFetch ------------------------------------------------------------------------

    def fetch_offsets(self, request: OffsetFetchRequest) -> OffsetFetchResponse:
        group = self.groups.get(request.group_id)
        try:
            if group is not None:
                group.validate_offset_fetch(member_id=request.member_id, member_epoch=request.member_epoch)
        except BrokerError as exc:
            if exc.error_code != ErrorCode.group_id_not_found:
                return OffsetFetchResponse(request.group_id, exc.error_code)
            group = None
        stored = self.offsets.group_offsets(request.group_id) if group is not None else {}
        if request.partitions is None:
            fetched = tuple(
                _fetched(topic, partition, offset)
                for topic, partitions in stored.items()
                for partition, offset in partitions.items()
            )
        else:
            fetched = tuple(
                _fetched(topic, partition, stored.get(topic, {}).get(partition))
                for topic, partition in request.partitions
            )
        return OffsetFetchResponse(request.group_id, ErrorCode.none, fetched)

    # --- OffsetDelete, DeleteGroups, expiration ----------------------------------------------

    def delete_offsets(
        self, group_id: str, partitions: list[tuple[str, int]]
    ) -> CoordinatorResult[list[PartitionError]]:
        group = self.groups.group(group_id)
        group.validate_offset_delete()
        records = []
        errors = []
        for topic, partition in partitions:
            if group.is_subscribed_to_topic(topic):
                errors.append(PartitionError(topic, partition, ErrorCode.group_subscribed_to_topic))
                continue
            errors.append(PartitionError(topic, partition, ErrorCode.none))
            if self.offsets.get(group_id, topic, partition) is not None:
                records.append(_tombstone(group_id, topic, partition))
        return CoordinatorResult(records=records, response=errors)

    def delete_all_offsets(self, group_id: str) -> list[CoordinatorRecord]:
        return [
            _tombstone(group_id, topic, partition)
            for topic, partitions in self.offsets.group_offsets(group_id).items()
            for partition in partitions
        ]

    def expire_offsets(self, group: Group, records: list[CoordinatorRecord]) -> bool:
        """Tombstones for the group's expired offsets; True when none remain (the group may go)."""
        stored = self.offsets.group_offsets(group.group_id)
        if not stored:
            return True
        base = group.offset_expiration_base()
        if base is None:
            return False
        now = self.time_ms()
        retention = self.config.offsets_retention_ms
        all_expired = True
        for topic, partitions in stored.items():
            if group.is_subscribed_to_topic(topic):
                all_expired = False
                continue
            for partition, offset in partitions.items():
                if offset_expired(offset.timestamps, base=base, now_ms=now, retention_ms=retention):
                    records.append(_tombstone(group.group_id, topic, partition))
                else:
                    all_expired = False
        return all_expired

    def tombstones_for_deleted_topics(self, topics: set[str]) -> list[CoordinatorRecord]:
        """A deleted topic's offsets go with it (Kafka's onPartitionsDeleted)."""
        return [
            _tombstone(group_id, topic, partition)
            for group_id in self.offsets.groups()
            for topic, partitions in self.offsets.group_offsets(group_id).items()
            if topic in topics
            for partition in partitions
        ]

    # --- replay -----------------------------------------------------------------------------

    def replay(self, record_offset: int, key: OffsetCommitKey, value: OffsetCommitValue | None) -> None:
        if value is None:
            self.offsets.remove(key.group, key.topic, key.partition)
            return
        if key.group not in self.groups:
            # Offsets without group metadata belong to a simple group (see _group_for_commit).
            self.groups.classic_group(key.group, create=True)
        self.offsets.put(
            key.group, key.topic, key.partition, OffsetAndMetadata.from_record(record_offset, value)
        )


def _fetched(topic: str, partition: int, offset: OffsetAndMetadata | None) -> FetchedOffset:
    if offset is None:
        return FetchedOffset(topic=topic, partition=partition)
    return FetchedOffset(
        topic=topic,
        partition=partition,
        offset=offset.committed_offset,
        leader_epoch=offset.leader_epoch,
        metadata=offset.metadata,
    )
