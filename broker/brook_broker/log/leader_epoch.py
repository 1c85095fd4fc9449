"""`LeaderEpochFileCache`: which leader epoch started at which offset (Kafka's namesake).

`UnifiedLog` records (epoch, start offset) whenever an appended batch carries a new
``partitionLeaderEpoch``, and truncates the cache with the log. Replication answers
OffsetForLeaderEpoch and computes diverging epochs from `end_offset_for`; ListOffsets and
Fetch use `latest_epoch` and `epoch_for_offset`.

Persisted in ``leader-epoch-checkpoint`` (``0\\n<count>\\n<epoch> <offset>\\n``). Kafka
writes the file synchronously when an epoch is assigned (rare: once per leader change) and
may write truncations lazily, because loading truncates the cache to the log again; this
cache writes on every change, which keeps the file exact at the same rare cost.
"""

from __future__ import annotations

import bisect
import logging
from pathlib import Path
from typing import NamedTuple

from brook_broker.log import checkpoint

logger = logging.getLogger(__name__)

#: OffsetForLeaderEpoch's "unknown" answers (``OffsetsForLeaderEpochResponse``).
UNDEFINED_EPOCH = -1
UNDEFINED_EPOCH_OFFSET = -1


class EpochEntry(NamedTuple):
    epoch: int
    start_offset: int


class LeaderEpochFileCache:
    """Entries sorted by epoch, with start offsets strictly increasing as well."""

    def __init__(self, path: Path | None, entries: list[EpochEntry] | None = None) -> None:
        # ``path`` None keeps the cache in memory only (used while rebuilding and in tests).
        self.path = path
        self._entries: list[EpochEntry] = []
        for entry in entries or []:
            self._assign(entry)

    @classmethod
    def load(cls, path: Path) -> LeaderEpochFileCache:
        """Read the checkpoint; raises `KafkaStorageError` if it is malformed."""
        entries = [
            EpochEntry(epoch, offset) for epoch, offset in checkpoint.read_leader_epoch_checkpoint(path)
        ]
        return cls(path, entries)

    @property
    def entries(self) -> list[EpochEntry]:
        return list(self._entries)

    def is_empty(self) -> bool:
        return not self._entries

    @property
    def latest_entry(self) -> EpochEntry | None:
        return self._entries[-1] if self._entries else None

    @property
    def latest_epoch(self) -> int | None:
        return self._entries[-1].epoch if self._entries else None

    @property
    def earliest_entry(self) -> EpochEntry | None:
        return self._entries[0] if self._entries else None

    def assign(self, epoch: int, start_offset: int) -> None:
        """Record that ``epoch`` starts at ``start_offset``; no-op unless it changes anything.

        A new entry removes any entries it contradicts (an epoch >= it, or a start offset >=
        its own), as Kafka does when a follower's log diverged.
        """
        if self._assign(EpochEntry(epoch, start_offset)):
            self._write()

    def assign_if_newer(self, epoch: int, start_offset: int) -> None:
        """`assign` only an epoch newer than the latest (appends, recovery, becoming leader)."""
        latest = self.latest_epoch
        if epoch >= 0 and (latest is None or epoch > latest):
            self.assign(epoch, start_offset)

    def _is_update_needed(self, entry: EpochEntry) -> bool:
        latest = self.latest_entry
        return latest is None or entry.epoch != latest.epoch or entry.start_offset < latest.start_offset

    def _assign(self, entry: EpochEntry) -> bool:
        if entry.epoch < 0 or entry.start_offset < 0:
            raise ValueError(f"invalid leader epoch entry {entry}")
        if not self._is_update_needed(entry):
            return False
        removed: list[EpochEntry] = []
        while self._entries and (
            self._entries[-1].epoch >= entry.epoch or self._entries[-1].start_offset >= entry.start_offset
        ):
            removed.append(self._entries.pop())
        if len(removed) > 1 or (removed and removed[0].start_offset != entry.start_offset):
            logger.warning("new epoch entry %s truncated conflicting entries %s", entry, removed)
        self._entries.append(entry)
        return True

    # Lists of a few entries (one per leader change): bisect over the list, no tree needed.
    def _floor_index(self, epoch: int) -> int:
        """Index of the last entry with epoch <= ``epoch``; -1 if none."""
        return bisect.bisect_right(self._entries, epoch, key=lambda entry: entry.epoch) - 1

    def end_offset_for(self, requested_epoch: int, log_end_offset: int) -> tuple[int, int]:
        """OffsetForLeaderEpoch: (largest epoch <= requested, the offset where it ended).

        - requested is undefined (-1), or larger than every known epoch: (-1, -1);
        - requested is the latest epoch: (requested, log end offset);
        - requested is older than every known epoch: (requested, start of the first known
          epoch). Kafka's javadoc still says (-1, -1) for this case, but its code returns
          this, so a follower truncates to the leader's earliest data instead of its HW;
        - otherwise: (floor epoch, start offset of the next epoch after requested).
        """
        latest = self.latest_epoch
        if requested_epoch == UNDEFINED_EPOCH:
            return UNDEFINED_EPOCH, UNDEFINED_EPOCH_OFFSET
        if latest is not None and latest == requested_epoch:
            return requested_epoch, log_end_offset
        floor = self._floor_index(requested_epoch)
        higher = floor + 1
        if higher >= len(self._entries):
            return UNDEFINED_EPOCH, UNDEFINED_EPOCH_OFFSET
        if floor < 0:
            return requested_epoch, self._entries[higher].start_offset
        return self._entries[floor].epoch, self._entries[higher].start_offset

    def epoch_for_offset(self, offset: int) -> int | None:
        """The epoch whose range contains ``offset`` (the last entry starting at or before it)."""
        index = bisect.bisect_right(self._entries, offset, key=lambda entry: entry.start_offset) - 1
        return self._entries[index].epoch if index >= 0 else None

    def previous_epoch(self, epoch: int) -> int | None:
        index = bisect.bisect_left(self._entries, epoch, key=lambda entry: entry.epoch) - 1
        return self._entries[index].epoch if index >= 0 else None

    def truncate_from_end(self, end_offset: int) -> None:
        """Remove entries whose start offset is >= ``end_offset`` (the log was truncated there)."""
        if end_offset < 0 or not self._entries or self._entries[-1].start_offset < end_offset:
            return
        while self._entries and self._entries[-1].start_offset >= end_offset:
            self._entries.pop()
        self._write()

    def truncate_from_start(self, start_offset: int) -> None:
        """Drop entries wholly below ``start_offset``; the epoch that covers it now starts there.

        Exclusive like Kafka's: after ``truncate_from_start(6)`` an entry at 6 is still there.
        """
        removed: EpochEntry | None = None
        # The last removed entry's epoch still covers ``start_offset``: keep it, moved up.
        while self._entries and self._entries[0].start_offset <= start_offset:
            removed = self._entries.pop(0)
        if removed is None:
            return
        self._entries.insert(0, EpochEntry(removed.epoch, start_offset))
        self._write()

    def clear(self) -> None:
        self._entries.clear()
        self._write()

    def _write(self) -> None:
        if self.path is not None:
            checkpoint.write_leader_epoch_checkpoint(self.path, self._entries)

    def __repr__(self) -> str:
        return f"LeaderEpochFileCache({self._entries})"
