"""Kafka's sparse segment indexes: `OffsetIndex` (``.index``) and `TimeIndex` (``.timeindex``).

`LogSegment` owns one of each and adds an entry every ``index.interval.bytes`` of appended
data. Formats are Kafka's, so a Kafka broker could open these files:

- offset index: 8-byte entries, relative offset int32 | physical position int32;
- time index: 12-byte entries, timestamp int64 | relative offset int32.

Offsets are stored relative to the segment's base offset, which is why a segment must roll
before a relative offset passes int32. Files are preallocated (a sparse ``ftruncate``) to
``segment.index.bytes`` and mmap'd; on roll and close they are trimmed to their entries, so
an index left at full length means the broker did not stop cleanly, and the loader rebuilds
it. Nothing here is checksummed: a damaged index is rebuilt from the log (`LogSegment.recover`).
"""

from __future__ import annotations

import mmap
import os
import struct
from pathlib import Path
from typing import ClassVar, NamedTuple

from brook_broker.protocol.records import NO_TIMESTAMP

_INT32_MAX = 2**31 - 1
_OFFSET_ENTRY = struct.Struct(">ii")
_TIME_ENTRY = struct.Struct(">qi")


class CorruptIndexError(Exception):
    """An index failed its sanity check; the segment is recovered instead (Kafka's CorruptIndexException)."""


class OffsetPosition(NamedTuple):
    offset: int
    position: int


class TimestampOffset(NamedTuple):
    timestamp: int
    offset: int


class AbstractIndex:
    """A memory-mapped file of fixed-size, sorted entries with binary search (Kafka's ``AbstractIndex``)."""

    entry_size: ClassVar[int]
    #: Whether an entry's offset is its value (TimeIndex: timestamp -> offset) or its key (OffsetIndex).
    offset_is_value: ClassVar[bool]

    def __init__(self, path: Path, *, base_offset: int, max_index_size: int) -> None:
        self.path = path
        self.base_offset = base_offset
        self.max_index_size = max_index_size
        newly_created = not path.exists()
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        if newly_created:
            # Sparse preallocation: the blocks are allocated only as entries are written.
            os.ftruncate(self._fd, self._round_down(max_index_size))
        self._length = os.fstat(self._fd).st_size
        self._mmap = self._map(self._length)
        # A new file is empty; an existing one was trimmed to its entries when it was closed.
        self._entries = 0 if newly_created else self._length // self.entry_size

    @classmethod
    def _round_down(cls, size: int) -> int:
        return size - size % cls.entry_size

    def _map(self, length: int) -> mmap.mmap | None:
        # MAP_SHARED (mmap's default) writes through to the page cache: entries reach the file
        # without a write(2), and the fd's fsync makes them durable.
        # mmap cannot map zero bytes; an empty index simply has no mapping.
        return mmap.mmap(self._fd, length) if length > 0 else None

    @property
    def entries(self) -> int:
        return self._entries

    @property
    def max_entries(self) -> int:
        return self._length // self.entry_size

    @property
    def length(self) -> int:
        """Bytes of the file, including preallocated space."""
        return self._length

    @property
    def size_in_bytes(self) -> int:
        return self._entries * self.entry_size

    def is_full(self) -> bool:
        return self._entries >= self.max_entries

    def can_append_offset(self, offset: int) -> bool:
        return 0 <= offset - self.base_offset <= _INT32_MAX

    def relative_offset(self, offset: int) -> int:
        relative = offset - self.base_offset
        if not 0 <= relative <= _INT32_MAX:
            raise ValueError(f"offset {offset} does not fit an index with base offset {self.base_offset}")
        return relative

    def resize(self, new_size: int) -> bool:
        """Change the file's length (rounded down to whole entries); False if it already has it."""
        rounded = self._round_down(new_size)
        if rounded == self._length:
            return False
        # A mapping cannot change size under its users; remap (no memoryviews are ever kept).
        if self._mmap is not None:
            self._mmap.close()
        os.ftruncate(self._fd, rounded)
        self._length = rounded
        self._mmap = self._map(rounded)
        self._entries = min(self._entries, rounded // self.entry_size)
        return True

    def trim_to_valid_size(self) -> None:
        self.resize(self.size_in_bytes)

    def truncate_to_entries(self, entries: int) -> None:
        # Entries past the count are left in place: appends overwrite them, trimming drops them.
        self._entries = entries
        self._on_entries_changed()

    def truncate(self) -> None:
        self.truncate_to_entries(0)

    def reset(self) -> None:
        """Drop every entry and make room for a full index again (before a rebuild)."""
        self.truncate()
        self.resize(self.max_index_size)

    def _on_entries_changed(self) -> None:
        """Hook for subclasses that cache their last entry."""

    def flush(self) -> None:
        # On Linux the page cache is shared with the mapping: fsync of the fd covers mmap'd writes.
        if self._fd >= 0:
            os.fsync(self._fd)

    def close(self) -> None:
        self.trim_to_valid_size()
        self.close_handler()

    def close_handler(self) -> None:
        """Release the mapping and descriptor without trimming (the files may be gone)."""
        if self._mmap is not None:
            self._mmap.close()
            self._mmap = None
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def rename_to(self, path: Path) -> None:
        os.rename(self.path, path)
        self.path = path

    def delete(self) -> None:
        self.path.unlink(missing_ok=True)

    def _largest_lower_bound_slot(self, target: int, *, by_value: bool) -> int:
        """Slot of the last entry whose key (or value) is <= ``target``; -1 if there is none."""
        buf = self._mmap
        if buf is None or self._entries == 0 or self._read_key(buf, 0, by_value) > target:
            return -1
        low, high = 0, self._entries - 1
        # Upper-middle split, so ``low = middle`` always makes progress.
        while low < high:
            middle = (low + high + 1) // 2
            if self._read_key(buf, middle, by_value) <= target:
                low = middle
            else:
                high = middle - 1
        return low

    def _read_key(self, buf: mmap.mmap, slot: int, by_value: bool) -> int:
        raise NotImplementedError

    def truncate_to(self, offset: int) -> None:
        """Remove entries with offset >= ``offset``."""
        slot = self._largest_lower_bound_slot(offset, by_value=self.offset_is_value)
        # No entry <= offset: drop all; an entry for offset itself: drop it too; else keep slot.
        if slot < 0:
            self.truncate_to_entries(0)
        else:
            assert self._mmap is not None  # a slot was found, so entries are mapped
            at_offset = self._read_key(self._mmap, slot, self.offset_is_value) == offset
            self.truncate_to_entries(slot if at_offset else slot + 1)


class OffsetIndex(AbstractIndex):
    """Maps offsets to byte positions of batches in the ``.log`` file.

    Each entry is (last offset of an append, position where that append starts): a lookup
    of the largest entry <= target lands on or before the batch holding the target.
    """

    entry_size: ClassVar[int] = _OFFSET_ENTRY.size
    offset_is_value: ClassVar[bool] = False

    def __init__(self, path: Path, *, base_offset: int, max_index_size: int) -> None:
        super().__init__(path, base_offset=base_offset, max_index_size=max_index_size)
        self._last_offset = self._last_entry().offset

    @property
    def last_offset(self) -> int:
        return self._last_offset

    def _entry(self, slot: int) -> OffsetPosition:
        assert self._mmap is not None
        relative, position = _OFFSET_ENTRY.unpack_from(self._mmap, slot * self.entry_size)
        return OffsetPosition(self.base_offset + relative, position)

    def entry(self, slot: int) -> OffsetPosition:
        if not 0 <= slot < self._entries:
            raise IndexError(f"index {self.path} has {self._entries} entries, no entry {slot}")
        return self._entry(slot)

    def _last_entry(self) -> OffsetPosition:
        if self._entries == 0:
            return OffsetPosition(self.base_offset, 0)
        return self._entry(self._entries - 1)

    def _read_key(self, buf: mmap.mmap, slot: int, by_value: bool) -> int:
        relative, position = _OFFSET_ENTRY.unpack_from(buf, slot * self.entry_size)
        return int(position) if by_value else self.base_offset + relative

    def lookup(self, target_offset: int) -> OffsetPosition:
        """The largest entry with offset <= target, or (base offset, 0) if there is none."""
        slot = self._largest_lower_bound_slot(target_offset, by_value=False)
        return OffsetPosition(self.base_offset, 0) if slot < 0 else self._entry(slot)

    def lookup_position(self, target_position: int) -> OffsetPosition:
        """The largest entry whose position is <= target: a batch boundary at or before it."""
        slot = self._largest_lower_bound_slot(target_position, by_value=True)
        return OffsetPosition(self.base_offset, 0) if slot < 0 else self._entry(slot)

    def append(self, offset: int, position: int) -> None:
        if self.is_full():
            raise ValueError(f"attempt to append to a full index {self.path} ({self._entries} entries)")
        # Lookups binary-search, so offsets must strictly increase.
        if self._entries > 0 and offset <= self._last_offset:
            raise ValueError(
                f"offset {offset} is not larger than the last indexed offset {self._last_offset}"
            )
        assert self._mmap is not None
        _OFFSET_ENTRY.pack_into(
            self._mmap, self._entries * self.entry_size, self.relative_offset(offset), position
        )
        self._entries += 1
        self._last_offset = offset

    def _on_entries_changed(self) -> None:
        self._last_offset = self._last_entry().offset

    def resize(self, new_size: int) -> bool:
        changed = super().resize(new_size)
        self._last_offset = self._last_entry().offset
        return changed

    def sanity_check(self, *, log_size: int) -> None:
        """Kafka's checks plus two cheap ones that catch a preallocated index left by a crash."""
        if self._length % self.entry_size:
            raise CorruptIndexError(f"index {self.path} has {self._length} bytes, not a multiple of 8")
        if self._entries == 0:
            return
        last = self._last_entry()
        if last.offset < self.base_offset or last.position > log_size:
            raise CorruptIndexError(f"index {self.path} ends with {last} beyond its segment")
        # Trailing zeroes of an untrimmed file read as entries at relative offset 0.
        if self._entries > 1 and self._entry(self._entries - 2).offset >= last.offset:
            raise CorruptIndexError(f"index {self.path} has offsets out of order at its end")


class TimeIndex(AbstractIndex):
    """Maps timestamps to offsets: an entry each time the segment's max timestamp grows."""

    entry_size: ClassVar[int] = _TIME_ENTRY.size
    offset_is_value: ClassVar[bool] = True

    def __init__(self, path: Path, *, base_offset: int, max_index_size: int) -> None:
        super().__init__(path, base_offset=base_offset, max_index_size=max_index_size)
        self._last = self._last_entry_from_file()

    def _entry(self, slot: int) -> TimestampOffset:
        assert self._mmap is not None
        timestamp, relative = _TIME_ENTRY.unpack_from(self._mmap, slot * self.entry_size)
        return TimestampOffset(timestamp, self.base_offset + relative)

    def entry(self, slot: int) -> TimestampOffset:
        if not 0 <= slot < self._entries:
            raise IndexError(f"time index {self.path} has {self._entries} entries, no entry {slot}")
        return self._entry(slot)

    def _last_entry_from_file(self) -> TimestampOffset:
        if self._entries == 0:
            return TimestampOffset(NO_TIMESTAMP, self.base_offset)
        return self._entry(self._entries - 1)

    @property
    def last_entry(self) -> TimestampOffset:
        return self._last

    def _read_key(self, buf: mmap.mmap, slot: int, by_value: bool) -> int:
        timestamp, relative = _TIME_ENTRY.unpack_from(buf, slot * self.entry_size)
        return self.base_offset + relative if by_value else int(timestamp)

    def is_full(self) -> bool:
        # Kafka keeps the last slot free for the entry written when the segment rolls.
        return self._entries >= self.max_entries - 1

    def lookup(self, target_timestamp: int) -> TimestampOffset:
        """The largest entry with timestamp <= target, or (-1, base offset) if there is none."""
        slot = self._largest_lower_bound_slot(target_timestamp, by_value=False)
        return TimestampOffset(NO_TIMESTAMP, self.base_offset) if slot < 0 else self._entry(slot)

    def maybe_append(self, timestamp: int, offset: int, *, skip_full_check: bool = False) -> None:
        """Append (timestamp, offset) if the timestamp is larger than the last entry's."""
        if not skip_full_check and self.is_full():
            raise ValueError(f"attempt to append to a full time index {self.path}")
        if self._entries and offset < self._last.offset:
            raise ValueError(
                f"offset {offset} is smaller than the last time-indexed offset {self._last.offset}"
            )
        if timestamp <= self._last.timestamp:
            return
        if self._entries >= self.max_entries:
            # Only the roll/close entry can get here (a trimmed file); grow it by one slot.
            self.resize(self._length + self.entry_size)
        assert self._mmap is not None
        _TIME_ENTRY.pack_into(
            self._mmap, self._entries * self.entry_size, timestamp, self.relative_offset(offset)
        )
        self._entries += 1
        self._last = TimestampOffset(timestamp, offset)

    def _on_entries_changed(self) -> None:
        self._last = self._last_entry_from_file()

    def resize(self, new_size: int) -> bool:
        changed = super().resize(new_size)
        self._last = self._last_entry_from_file()
        return changed

    def sanity_check(self) -> None:
        if self._length % self.entry_size:
            raise CorruptIndexError(f"time index {self.path} has {self._length} bytes, not a multiple of 12")
        if self._entries == 0:
            return
        if self._last.timestamp < self._entry(0).timestamp or self._last.offset < self.base_offset:
            raise CorruptIndexError(f"time index {self.path} ends with {self._last}, before its start")
        # An untrimmed file ends in zero entries: timestamp 0 after real (positive) timestamps.
        if self._entries > 1 and self._entry(self._entries - 2).timestamp >= self._last.timestamp:
            raise CorruptIndexError(f"time index {self.path} has timestamps out of order at its end")
