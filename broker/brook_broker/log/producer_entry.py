"""Per-producer state and its validation: Kafka's ProducerStateEntry and ProducerAppendInfo.

`ProducerStateManager` keeps one `ProducerStateEntry` per producer id; for each append it
hands out a `ProducerAppendInfo`, which applies Kafka's epoch and sequence rules
(``ProducerAppendInfo.checkSequence``) to the new batches before anything is written.
"""

from __future__ import annotations

import collections
import dataclasses
import enum
import logging
from typing import NamedTuple

from brook_broker.protocol.errors import InvalidProducerEpochError, OutOfOrderSequenceError
from brook_broker.protocol.records import NO_PRODUCER_EPOCH, NO_SEQUENCE, NO_TIMESTAMP, RecordBatchHeader

logger = logging.getLogger(__name__)

#: Batches remembered per producer for duplicate detection (Kafka's NUM_BATCHES_TO_RETAIN).
NUM_BATCHES_TO_RETAIN = 5
_INT32_MAX = 2**31 - 1


class AppendOrigin(enum.Enum):
    """Who is appending: clients get full validation, replication none (the leader did it)."""

    CLIENT = "client"
    REPLICATION = "replication"
    COORDINATOR = "coordinator"


def decrement_sequence(sequence: int, decrement: int) -> int:
    """Sequence numbers wrap from int32 max to 0 (Kafka's ``DefaultRecordBatch.decrementSequence``)."""
    if sequence < decrement:
        return sequence + (_INT32_MAX - decrement) + 1
    return sequence - decrement


def in_sequence(last_seq: int, next_seq: int) -> bool:
    return next_seq == last_seq + 1 or (next_seq == 0 and last_seq == _INT32_MAX)


class BatchMetadata(NamedTuple):
    """One appended batch of a producer: enough to answer its retry with the same offsets."""

    last_seq: int
    last_offset: int
    offset_delta: int
    timestamp: int

    @property
    def first_seq(self) -> int:
        return decrement_sequence(self.last_seq, self.offset_delta)

    @property
    def first_offset(self) -> int:
        return self.last_offset - self.offset_delta


@dataclasses.dataclass(slots=True)
class ProducerStateEntry:
    """The state of one producer id: its epoch and its last few batches, oldest first."""

    producer_id: int
    producer_epoch: int = NO_PRODUCER_EPOCH
    coordinator_epoch: int = -1
    last_timestamp: int = NO_TIMESTAMP
    current_txn_first_offset: int | None = None
    batch_metadata: collections.deque[BatchMetadata] = dataclasses.field(
        default_factory=lambda: collections.deque(maxlen=NUM_BATCHES_TO_RETAIN)
    )

    def is_empty(self) -> bool:
        return not self.batch_metadata

    @property
    def first_seq(self) -> int:
        return self.batch_metadata[0].first_seq if self.batch_metadata else NO_SEQUENCE

    @property
    def last_seq(self) -> int:
        return self.batch_metadata[-1].last_seq if self.batch_metadata else NO_SEQUENCE

    @property
    def last_data_offset(self) -> int:
        return self.batch_metadata[-1].last_offset if self.batch_metadata else -1

    def maybe_update_producer_epoch(self, producer_epoch: int) -> None:
        # A new epoch starts a new sequence space: the old batches cannot be retried any more.
        if self.producer_epoch != producer_epoch:
            self.batch_metadata.clear()
            self.producer_epoch = producer_epoch

    def add_batch(
        self, *, producer_epoch: int, last_seq: int, last_offset: int, offset_delta: int, timestamp: int
    ) -> None:
        self.maybe_update_producer_epoch(producer_epoch)
        self.batch_metadata.append(BatchMetadata(last_seq, last_offset, offset_delta, timestamp))
        self.last_timestamp = timestamp

    def update(self, other: ProducerStateEntry) -> None:
        """Fold in the entry a `ProducerAppendInfo` built on top of this one."""
        self.maybe_update_producer_epoch(other.producer_epoch)
        self.batch_metadata.extend(other.batch_metadata)
        self.coordinator_epoch = other.coordinator_epoch
        self.current_txn_first_offset = other.current_txn_first_offset
        self.last_timestamp = other.last_timestamp

    def find_duplicate_batch(self, header: RecordBatchHeader) -> BatchMetadata | None:
        if header.producer_epoch != self.producer_epoch:
            return None
        first_seq, last_seq = header.base_sequence, header.last_sequence
        for batch in self.batch_metadata:
            if batch.last_seq == last_seq and batch.first_seq == first_seq:
                return batch
        return None


class ProducerAppendInfo:
    """Validates one producer's batches within an append and accumulates its new state."""

    def __init__(self, producer_id: int, current: ProducerStateEntry | None, origin: AppendOrigin) -> None:
        self.producer_id = producer_id
        self.origin = origin
        self._current = current or ProducerStateEntry(producer_id)
        # Starts with the current epoch and no batches; `update` appends its batches later.
        self.updated = ProducerStateEntry(
            producer_id,
            producer_epoch=self._current.producer_epoch,
            coordinator_epoch=self._current.coordinator_epoch,
            last_timestamp=self._current.last_timestamp,
            current_txn_first_offset=self._current.current_txn_first_offset,
        )

    def append(self, header: RecordBatchHeader) -> None:
        """Validate and record one batch (offsets already assigned)."""
        self._check_producer_epoch(header.producer_epoch, header.base_offset)
        if header.is_control:
            # A transaction marker ends the producer's transaction. Its coordinator epoch is
            # in the marker record; the transaction coordinator will pass it when it exists.
            self.updated.maybe_update_producer_epoch(header.producer_epoch)
            self.updated.current_txn_first_offset = None
            self.updated.last_timestamp = header.max_timestamp
            return
        if self.origin is AppendOrigin.CLIENT:
            self._check_sequence(header.producer_epoch, header.base_sequence, header.base_offset)
        self.updated.add_batch(
            producer_epoch=header.producer_epoch,
            last_seq=header.last_sequence,
            last_offset=header.last_offset,
            offset_delta=header.last_offset_delta,
            timestamp=header.max_timestamp,
        )
        if header.is_transactional and self.updated.current_txn_first_offset is None:
            self.updated.current_txn_first_offset = header.base_offset

    def _check_producer_epoch(self, producer_epoch: int, offset: int) -> None:
        current = self.updated.producer_epoch
        if producer_epoch >= current:
            return
        message = (
            f"epoch of producer {self.producer_id} at offset {offset} is {producer_epoch}, "
            f"older than the last seen epoch {current}"
        )
        if self.origin is AppendOrigin.REPLICATION:
            logger.warning(message)
            return
        raise InvalidProducerEpochError(message)

    def _check_sequence(self, producer_epoch: int, first_seq: int, offset: int) -> None:
        """Kafka's ``ProducerAppendInfo.checkSequence`` for idempotent (non-TV2) producers."""
        if producer_epoch != self.updated.producer_epoch:
            # A bumped epoch must start again at sequence 0, unless the producer had no epoch yet.
            if first_seq != 0 and self.updated.producer_epoch != NO_PRODUCER_EPOCH:
                raise OutOfOrderSequenceError(
                    f"invalid sequence number {first_seq} for new epoch {producer_epoch} of producer "
                    f"{self.producer_id} at offset {offset} (current epoch {self.updated.producer_epoch})"
                )
            return
        if not self.updated.is_empty():
            current_last_seq = self.updated.last_seq
        elif producer_epoch == self._current.producer_epoch:
            current_last_seq = self._current.last_seq
        else:
            current_last_seq = NO_SEQUENCE
        # No known epoch (e.g. its batches were all deleted by retention): accept any sequence.
        if self._current.producer_epoch == NO_PRODUCER_EPOCH or in_sequence(current_last_seq, first_seq):
            return
        raise OutOfOrderSequenceError(
            f"out of order sequence number for producer {self.producer_id} at offset {offset}: "
            f"{first_seq} (incoming seq. number), {current_last_seq} (current end sequence number)"
        )
