"""One partition hosted on this broker: its log, leader epoch, ISR and high watermark.

Kafka's ``Partition`` is where replication rules live: the leader appends, followers fetch,
the high watermark is the minimum log end offset over the ISR, and acks=all needs at least
``min.insync.replicas`` in the ISR (capped at the replica count, as in Kafka 4.x). With a
single broker the ISR is just this node, so the high watermark follows the log end offset on
every append; the follower bookkeeping (`follower_leos`) is what replication will fill in.
"""

from __future__ import annotations

import dataclasses
import uuid

from brook_broker.log.unified_log import LogAppendInfo, UnifiedLog
from brook_broker.protocol.errors import (
    FencedLeaderEpochError,
    NotEnoughReplicasError,
    NotLeaderOrFollowerError,
    UnknownLeaderEpochError,
)
from brook_broker.protocol.types import TopicPartition

#: Kafka's "no epoch given" marker in requests (CurrentLeaderEpoch = -1).
NO_EPOCH = -1


@dataclasses.dataclass(frozen=True, slots=True)
class EpochEndOffset:
    leader_epoch: int
    end_offset: int


class Partition:
    def __init__(
        self,
        *,
        topic_partition: TopicPartition,
        topic_id: uuid.UUID,
        log: UnifiedLog,
        local_node_id: int,
    ) -> None:
        self.topic_partition = topic_partition
        self.topic_id = topic_id
        self.log = log
        self.local_node_id = local_node_id
        self.leader = -1
        self.leader_epoch = 0
        self.partition_epoch = 0
        self.replicas: tuple[int, ...] = ()
        self.isr: tuple[int, ...] = ()
        #: Log end offsets reported by followers' fetches (replication fills this in).
        self.follower_leos: dict[int, int] = {}

    def update_registration(
        self,
        *,
        leader: int,
        leader_epoch: int,
        partition_epoch: int,
        replicas: tuple[int, ...],
        isr: tuple[int, ...],
    ) -> None:
        self.leader = leader
        self.leader_epoch = leader_epoch
        self.partition_epoch = partition_epoch
        self.replicas = replicas
        self.isr = isr
        if self.is_leader:
            # Kafka's makeLeader: a new leader epoch starts at the log end offset, written to
            # the leader-epoch cache at once (ListOffsets and OffsetForLeaderEpoch report it
            # even before the first append).
            self.log.maybe_assign_epoch_start_offset(leader_epoch, self.log.log_end_offset)
        self.maybe_increment_high_watermark()

    @property
    def is_leader(self) -> bool:
        return self.leader == self.local_node_id

    @property
    def high_watermark(self) -> int:
        return self.log.high_watermark

    def check_leader_epoch(self, current_leader_epoch: int) -> None:
        """KIP-320 fencing: a client that knows a newer or older epoch is told so."""
        if current_leader_epoch in (NO_EPOCH, self.leader_epoch):
            return
        if current_leader_epoch > self.leader_epoch:
            raise UnknownLeaderEpochError(
                f"leader epoch {current_leader_epoch} is newer than ours ({self.leader_epoch})"
            )
        raise FencedLeaderEpochError(
            f"leader epoch {current_leader_epoch} is older than ours ({self.leader_epoch})"
        )

    def append_records_to_leader(
        self, records: bytes, *, required_acks: int, min_insync_replicas: int
    ) -> LogAppendInfo:
        if not self.is_leader:
            raise NotLeaderOrFollowerError(
                f"broker {self.local_node_id} is not the leader of {self.topic_partition}"
            )
        # Kafka checks the ISR size before appending for acks=all (NOT_ENOUGH_REPLICAS), against
        # min.insync.replicas capped at the replica count (Partition.effectiveMinIsr): a topic
        # with fewer replicas than min.insync.replicas still takes acks=all while all are in sync.
        effective_min_isr = min(min_insync_replicas, max(len(self.replicas), 1))
        if required_acks == -1 and len(self.isr) < effective_min_isr:
            raise NotEnoughReplicasError(
                f"The size of the current ISR {set(self.isr)} is insufficient to satisfy the min.isr "
                f"requirement of {effective_min_isr} for partition {self.topic_partition}"
            )
        info = self.log.append_as_leader(records, leader_epoch=self.leader_epoch)
        self.maybe_increment_high_watermark()
        return info

    def maybe_increment_high_watermark(self) -> bool:
        """HW = minimum LEO over the ISR (the leader's own LEO included). Never moves back."""
        if not self.is_leader:
            return False
        leo = self.log.log_end_offset
        candidates = [leo] + [self.follower_leos.get(r, 0) for r in self.isr if r != self.local_node_id]
        new_hw = min(candidates)
        if new_hw > self.log.high_watermark:
            self.log.update_high_watermark(new_hw)
            return True
        return False

    def last_offset_for_leader_epoch(self, *, current_leader_epoch: int, leader_epoch: int) -> EpochEndOffset:
        self.check_leader_epoch(current_leader_epoch)
        epoch, end_offset = self.log.leader_epoch_cache.end_offset_for(leader_epoch, self.log.log_end_offset)
        return EpochEndOffset(epoch, end_offset)
