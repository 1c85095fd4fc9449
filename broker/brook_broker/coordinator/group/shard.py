"""`GroupCoordinatorShard`: the groups and offsets of one ``__consumer_offsets`` partition.

Kafka's ``GroupCoordinatorShard``: one state machine per offsets-topic partition, changed by
operations (which return records to append) and by replaying records (live commits, and
every record of the partition when it is loaded). It routes each operation to the manager
that owns it — `classic.manager.ClassicGroupManager` for classic membership,
`consumer.manager.ConsumerGroupManager` for KIP-848 consumer groups, `offsets.OffsetManager`
for offsets — and implements the operations that span them (DeleteGroups, expiration). The
group managers share `groups` (one namespace of group ids) and `offsets`. Server-side
assignment needs topic ids and partition counts, so the shard holds the metadata image.

Driven by `coordinator.GroupCoordinator`, which serialises operations per shard (the event
loop is the single thread Kafka gives each shard) and appends the records.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from brook_broker.coordinator.group.classic.group import ClassicGroup
from brook_broker.coordinator.group.classic.manager import ClassicGroupManager
from brook_broker.coordinator.group.common import CoordinatorResult, GroupConfig, Timer
from brook_broker.coordinator.group.consumer.manager import ConsumerGroupManager
from brook_broker.coordinator.group.consumer_records import ConsumerGroupValue
from brook_broker.coordinator.group.group import Group, ListedGroup
from brook_broker.coordinator.group.messages import DescribedGroup
from brook_broker.coordinator.group.offsets import OffsetManager
from brook_broker.coordinator.group.records import (
    CoordinatorRecord,
    GroupMetadataKey,
    GroupMetadataValue,
    OffsetCommitKey,
    OffsetCommitValue,
    UnknownKey,
)
from brook_broker.coordinator.group.store import GroupStore
from brook_broker.metadata.image import MetadataImage
from brook_broker.protocol.errors import BrokerError, ErrorCode

logger = logging.getLogger(__name__)

EXPIRATION_KEY = "expire-group-metadata"


class GroupCoordinatorShard:
    def __init__(
        self,
        *,
        partition: int,
        config: GroupConfig,
        timer: Timer,
        time_ms: Callable[[], int],
        image: MetadataImage | None = None,
    ) -> None:
        self.partition = partition
        self.config = config
        self.timer = timer
        self.time_ms = time_ms
        self.groups = GroupStore(time_ms=time_ms)
        self.classic = ClassicGroupManager(groups=self.groups, timer=timer, config=config, time_ms=time_ms)
        self.consumer = ConsumerGroupManager(
            groups=self.groups, timer=timer, config=config, time_ms=time_ms, image=image or MetadataImage()
        )
        self.offsets = OffsetManager(
            groups=self.groups, config=config, time_ms=time_ms, on_member_commit=self._on_member_commit
        )
        self._skipped_record_types: set[int] = set()

    def _on_member_commit(self, group: Group, member_id: str) -> None:
        if isinstance(group, ClassicGroup):
            self.classic.keep_session_alive(group, member_id)

    # --- replay -----------------------------------------------------------------------------

    def replay(self, record_offset: int, record: CoordinatorRecord) -> None:
        key, value = record.key, record.value
        match key:
            case OffsetCommitKey():
                assert value is None or isinstance(value, OffsetCommitValue)
                self.offsets.replay(record_offset, key, value)
            case GroupMetadataKey():
                assert value is None or isinstance(value, GroupMetadataValue)
                self.classic.replay_group_metadata(key.group, value)
            case UnknownKey(version=version):
                if version not in self._skipped_record_types:
                    # Share and streams group records (types 9+) written by a newer coordinator.
                    self._skipped_record_types.add(version)
                    logger.warning(
                        "__consumer_offsets-%d: skipping records of type %d (not handled here)",
                        self.partition,
                        version,
                    )
            case _:
                self.consumer.replay(key, _consumer_value(value))

    def on_loaded(self) -> list[CoordinatorResult[None]]:
        self.schedule_expiration()
        self.consumer.on_loaded()
        return self.classic.on_loaded()

    def on_unloaded(self) -> None:
        self.classic.on_unloaded()
        self.consumer.on_unloaded()
        self.timer.cancel(EXPIRATION_KEY)

    # --- operations spanning groups and offsets ---------------------------------------------

    def list_groups(self, *, states: set[str], types: set[str]) -> list[ListedGroup]:
        """ListGroups; filters are case-insensitive, empty filters match everything."""
        states = {s.strip().lower() for s in states}
        types = {t.strip().lower() for t in types}
        return [
            group.as_listed_group()
            for group in self.groups
            if (not states or group.state_name().lower() in states)
            and (not types or group.type.value in types)
        ]

    def describe_group(self, group_id: str, *, api_version: int) -> DescribedGroup:
        return self.classic.describe_group(group_id, api_version=api_version)

    def delete_groups(self, group_ids: list[str]) -> CoordinatorResult[dict[str, ErrorCode]]:
        """Tombstones for each deletable group's offsets and metadata (replayed: the group goes)."""
        records: list[CoordinatorRecord] = []
        results: dict[str, ErrorCode] = {}
        for group_id in group_ids:
            try:
                group = self.groups.group(group_id)
                group.validate_delete_group()
            except BrokerError as exc:
                results[group_id] = exc.error_code
                continue
            records.extend(self.offsets.delete_all_offsets(group_id))
            records.extend(group.tombstones())
            results[group_id] = ErrorCode.none
        if records:
            logger.info(
                "Deleting groups %s (%d record(s))",
                [g for g, e in results.items() if e == ErrorCode.none],
                len(records),
            )
        return CoordinatorResult(records=records, response=results)

    def schedule_expiration(self) -> None:
        self.timer.schedule(
            EXPIRATION_KEY, self.config.offsets_retention_check_interval_ms, self.cleanup_group_metadata
        )

    def cleanup_group_metadata(self) -> CoordinatorResult[None]:
        """The periodic expiration: old offsets of groups nobody consumes with, then empty groups."""
        records: list[CoordinatorRecord] = []
        for group in self.groups:
            if self.offsets.expire_offsets(group, records) and group.is_empty():
                records.extend(group.tombstones())
        if records:
            logger.info(
                "__consumer_offsets-%d: %d tombstone(s) from offset expiration", self.partition, len(records)
            )
        self.schedule_expiration()
        return CoordinatorResult(records=records)

    def delete_offsets_of_topics(self, topics: set[str]) -> CoordinatorResult[None]:
        return CoordinatorResult(records=self.offsets.tombstones_for_deleted_topics(topics))


def _consumer_value(value: object) -> ConsumerGroupValue | None:
    assert value is None or not isinstance(value, OffsetCommitValue | GroupMetadataValue)
    return value  # type: ignore[return-value]
