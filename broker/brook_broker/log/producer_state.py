"""Idempotent-producer state of one partition (Kafka's ProducerStateManager and friends).

`UnifiedLog` asks `prepare_update` for a `ProducerAppendInfo` per producer id in an
append, which checks epochs and sequence numbers (leader appends only) and collects the
new batch metadata; after the write, `update` commits it. Per producer the manager keeps the
epoch and metadata of the last five batches, so a retry of any in-flight batch
(``max.in.flight.requests.per.connection`` <= 5) is recognised as a duplicate and answered
with its original offsets.

State survives restarts through snapshots (see `producer_snapshot`) plus a replay of batch
headers written after the newest snapshot: producer id, epoch and sequences are all in the
header, so the replay never decodes records.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from brook_broker.log import producer_snapshot
from brook_broker.log.clock import Clock
from brook_broker.log.producer_entry import (
    AppendOrigin,
    BatchMetadata,
    ProducerAppendInfo,
    ProducerStateEntry,
)
from brook_broker.log.producer_snapshot import CorruptSnapshotError, SnapshotEntry
from brook_broker.protocol.records import NO_SEQUENCE, RecordBatchHeader

logger = logging.getLogger(__name__)

#: ``producer.id.expiration.ms``: a producer idle this long is forgotten.
DEFAULT_PRODUCER_ID_EXPIRATION_MS = 24 * 3600 * 1000


class ProducerStateManager:
    """All producers of a partition, their snapshots and expiry."""

    def __init__(
        self,
        log_dir: Path,
        *,
        producer_id_expiration_ms: int = DEFAULT_PRODUCER_ID_EXPIRATION_MS,
        time: Clock,
    ) -> None:
        self.log_dir = log_dir
        self.producer_id_expiration_ms = producer_id_expiration_ms
        self._time = time
        self.producers: dict[int, ProducerStateEntry] = {}
        # Sorted offsets of the snapshot files on disk; the files are read only when loading.
        self._snapshots = producer_snapshot.list_snapshot_offsets(log_dir)
        self._unsynced_snapshots: list[Path] = []
        self._last_map_offset = 0
        self._last_snap_offset = 0

    @property
    def map_end_offset(self) -> int:
        """The offset up to which batches have been applied to this state."""
        return self._last_map_offset

    def update_map_end_offset(self, offset: int) -> None:
        self._last_map_offset = offset

    def is_empty(self) -> bool:
        return not self.producers

    def last_entry(self, producer_id: int) -> ProducerStateEntry | None:
        return self.producers.get(producer_id)

    def prepare_update(self, producer_id: int, origin: AppendOrigin) -> ProducerAppendInfo:
        return ProducerAppendInfo(producer_id, self.producers.get(producer_id), origin)

    def update(self, append_info: ProducerAppendInfo) -> None:
        current = self.producers.get(append_info.producer_id)
        if current is None:
            self.producers[append_info.producer_id] = append_info.updated
        else:
            current.update(append_info.updated)

    def analyze(
        self, headers: list[RecordBatchHeader], origin: AppendOrigin
    ) -> tuple[dict[int, ProducerAppendInfo], BatchMetadata | None]:
        """Validate an append's idempotent batches (Kafka's ``analyzeAndValidateProducerState``).

        Returns the per-producer updates to commit after the write, or, for a client retry of
        a batch in the five-batch window, that batch's metadata (the append is a duplicate).
        """
        updates: dict[int, ProducerAppendInfo] = {}
        for header in headers:
            producer_id = header.producer_id
            if producer_id < 0:
                continue
            if origin is AppendOrigin.CLIENT:
                entry = self.producers.get(producer_id)
                duplicate = entry.find_duplicate_batch(header) if entry is not None else None
                if duplicate is not None:
                    return updates, duplicate
            info = updates.get(producer_id)
            if info is None:
                info = updates[producer_id] = self.prepare_update(producer_id, origin)
            info.append(header)
        return updates, None

    def apply_batch(self, header: RecordBatchHeader) -> None:
        """Replay one batch from the log (loading, recovery, follower appends): no sequence checks."""
        if header.producer_id >= 0:
            info = self.prepare_update(header.producer_id, AppendOrigin.REPLICATION)
            info.append(header)
            self.update(info)
        self._last_map_offset = header.next_offset

    # -- expiry ---------------------------------------------------------------------------

    def _is_expired(self, entry: ProducerStateEntry, now_ms: int) -> bool:
        return (
            entry.current_txn_first_offset is None
            and now_ms - entry.last_timestamp >= self.producer_id_expiration_ms
        )

    def remove_expired_producers(self, now_ms: int) -> int:
        """Forget producers idle for ``producer.id.expiration.ms``; returns how many."""
        expired = [pid for pid, entry in self.producers.items() if self._is_expired(entry, now_ms)]
        for pid in expired:
            del self.producers[pid]
        return len(expired)

    # -- snapshots ------------------------------------------------------------------------

    @property
    def snapshot_offsets(self) -> list[int]:
        return list(self._snapshots)

    @property
    def latest_snapshot_offset(self) -> int | None:
        return self._snapshots[-1] if self._snapshots else None

    @property
    def oldest_snapshot_offset(self) -> int | None:
        return self._snapshots[0] if self._snapshots else None

    def _snapshot_path(self, offset: int) -> Path:
        return self.log_dir / producer_snapshot.snapshot_file_name(offset)

    def take_snapshot(self, *, sync: bool = True) -> Path | None:
        """Write the state at the map end offset, unless a snapshot there exists already."""
        # Nothing applied since the last snapshot: another file would say the same.
        if self._last_map_offset <= self._last_snap_offset:
            return None
        offset = self._last_map_offset
        path = self._snapshot_path(offset)
        producer_snapshot.write_snapshot(path, self._snapshot_entries(), sync=sync)
        if not sync:
            self._unsynced_snapshots.append(path)
        if offset not in self._snapshots:
            self._snapshots.append(offset)
            self._snapshots.sort()
        self._last_snap_offset = offset
        return path

    def take_unsynced_snapshots(self) -> list[Path]:
        """Hand over the snapshots written with ``sync=False``; the caller fsyncs them (`sync_files`)."""
        pending, self._unsynced_snapshots = self._unsynced_snapshots, []
        return pending

    def _snapshot_entries(self) -> list[SnapshotEntry]:
        entries: list[SnapshotEntry] = []
        for pid, entry in self.producers.items():
            txn = -1 if entry.current_txn_first_offset is None else entry.current_txn_first_offset
            if not entry.batch_metadata:
                entries.append(
                    SnapshotEntry(
                        pid,
                        entry.producer_epoch,
                        NO_SEQUENCE,
                        -1,
                        0,
                        entry.last_timestamp,
                        entry.coordinator_epoch,
                        txn,
                    )
                )
            # Oldest first, so a reader that keeps the last entry per producer id keeps the newest batch.
            entries.extend(
                SnapshotEntry(
                    pid,
                    entry.producer_epoch,
                    batch.last_seq,
                    batch.last_offset,
                    batch.offset_delta,
                    batch.timestamp,
                    entry.coordinator_epoch,
                    txn,
                )
                for batch in entry.batch_metadata
            )
        return entries

    def _load_from_snapshot(self, log_start_offset: int, now_ms: int) -> None:
        """Load the newest readable snapshot; corrupt ones are deleted on the way."""
        while self._snapshots:
            offset = self._snapshots[-1]
            try:
                entries = producer_snapshot.read_snapshot(self._snapshot_path(offset))
            except (CorruptSnapshotError, OSError) as exc:
                logger.warning("%s: cannot load producer snapshot %d: %s", self.log_dir, offset, exc)
                self._remove_snapshot(offset)
                continue
            self._load_entries(entries, now_ms)
            self._last_snap_offset = self._last_map_offset = offset
            return
        self._last_snap_offset = self._last_map_offset = log_start_offset

    def _load_entries(self, entries: list[SnapshotEntry], now_ms: int) -> None:
        for row in entries:
            entry = self.producers.get(row.producer_id)
            if entry is None or entry.producer_epoch != row.producer_epoch:
                entry = ProducerStateEntry(row.producer_id, producer_epoch=row.producer_epoch)
                self.producers[row.producer_id] = entry
            entry.coordinator_epoch = row.coordinator_epoch
            entry.last_timestamp = row.timestamp
            entry.current_txn_first_offset = (
                None if row.current_txn_first_offset < 0 else row.current_txn_first_offset
            )
            if row.last_offset >= 0:
                entry.batch_metadata.append(
                    BatchMetadata(row.last_sequence, row.last_offset, row.offset_delta, row.timestamp)
                )
        for pid in [pid for pid, entry in self.producers.items() if self._is_expired(entry, now_ms)]:
            del self.producers[pid]

    def _remove_snapshot(self, offset: int) -> None:
        if offset in self._snapshots:
            self._snapshots.remove(offset)
        self._snapshot_path(offset).unlink(missing_ok=True)

    def truncate_and_reload(self, *, log_start_offset: int, log_end_offset: int, now_ms: int) -> None:
        """Drop snapshots outside (log start, log end] and reload from the newest one left.

        The caller then replays batches from `map_end_offset` to the log end.
        """
        # Past the log end: its batches are gone. At or below the start: the log starts over there.
        for offset in list(self._snapshots):
            if offset > log_end_offset or offset <= log_start_offset:
                self._remove_snapshot(offset)
        # Only a state that ends exactly at the log end can be kept as it is.
        if log_end_offset != self._last_map_offset:
            self.producers.clear()
            self._load_from_snapshot(log_start_offset, now_ms)
        else:
            self.on_log_start_offset_incremented(log_start_offset)

    def truncate_fully_and_start_at(self, offset: int) -> None:
        self.producers.clear()
        for snapshot in list(self._snapshots):
            self._remove_snapshot(snapshot)
        self._last_snap_offset = 0
        self._last_map_offset = offset

    def on_log_start_offset_incremented(self, log_start_offset: int) -> None:
        self._last_map_offset = max(self._last_map_offset, log_start_offset)
        self._last_snap_offset = self._snapshots[-1] if self._snapshots else log_start_offset

    def delete_snapshots_before(self, offset: int) -> None:
        for snapshot in [s for s in self._snapshots if s < offset]:
            self._remove_snapshot(snapshot)

    def remove_stray_snapshots(self, segment_base_offsets: list[int]) -> None:
        """Delete snapshots with no segment, except the newest one past the last segment (clean close)."""
        bases = set(segment_base_offsets)
        max_base = max(bases, default=None)
        strays = [offset for offset in self._snapshots if offset not in bases]
        keep = strays[-1] if strays and (max_base is None or strays[-1] > max_base) else None
        for offset in strays:
            if offset != keep:
                self._remove_snapshot(offset)


def sync_files(paths: list[Path]) -> None:
    """fsync files that may have been deleted meanwhile (a snapshot below a new log start)."""
    for path in paths:
        try:
            fd = os.open(path, os.O_RDONLY)
        except FileNotFoundError:
            continue
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
