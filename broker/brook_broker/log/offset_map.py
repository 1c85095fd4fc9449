"""The log cleaner's key -> latest offset map (Kafka's ``OffsetMap`` / ``SkimpyOffsetMap``).

`cleaner.Cleaner` fills one from the dirty section of a log (`put` for every keyed record, in
offset order) and then asks, for every record it copies, whether a later offset holds the
same key (`get`). Its memory is bounded by ``log.cleaner.dedupe.buffer.size``: the map
reports `is_full` once it holds ``slots * log.cleaner.io.buffer.load.factor`` keys, and the
cleaner then cleans only up to the last offset it managed to map.

Kafka stores a 16-byte MD5 of each key plus an 8-byte offset in a flat buffer (24 bytes a
slot). A Python dict costs more per entry, so a slot here is `BYTES_PER_ENTRY` bytes, measured
with ``tracemalloc`` for 16-byte keys and offsets above 2**30. Keys shorter than 16 bytes are
stored as they are (cheaper than hashing, and exact); longer ones by their MD5, as Kafka does.
The two kinds never collide: a stored key is either shorter than 16 bytes or exactly 16.
"""

from __future__ import annotations

import hashlib

#: Approximate bytes one entry costs: a 16-byte ``bytes`` key (49), an ``int`` offset (32) and
#: the dict's share (index, entry and spare room), measured at about 133.
BYTES_PER_ENTRY = 136
_DIGEST_SIZE = 16
DEFAULT_LOAD_FACTOR = 0.9


def _map_key(key: bytes) -> bytes:
    if len(key) < _DIGEST_SIZE:
        return key
    return hashlib.md5(key, usedforsecurity=False).digest()


class OffsetMap:
    """Latest offset per key of a log's dirty section, within a memory budget."""

    def __init__(self, memory: int, *, load_factor: float = DEFAULT_LOAD_FACTOR) -> None:
        if memory < BYTES_PER_ENTRY:
            raise ValueError(f"an offset map needs at least {BYTES_PER_ENTRY} bytes, got {memory}")
        self.memory = memory
        self.slots = memory // BYTES_PER_ENTRY
        #: Kafka's ``maxDesiredMapSize``: the map counts as full beyond this many keys.
        self.max_entries = max(1, int(self.slots * load_factor))
        self._offsets: dict[bytes, int] = {}
        #: The last offset the map covers: every keyed record up to here has been put.
        self.latest_offset = -1

    def __len__(self) -> int:
        return len(self._offsets)

    @property
    def is_full(self) -> bool:
        return len(self._offsets) >= self.max_entries

    def has_room_for(self, count: int) -> bool:
        """Whether ``count`` more keys fit (the cleaner maps whole batches or none)."""
        return len(self._offsets) + count <= self.max_entries

    @property
    def utilization(self) -> float:
        return len(self._offsets) / self.slots

    def put(self, key: bytes, offset: int) -> None:
        # Records arrive in offset order, so the last put for a key is its latest offset.
        self._offsets[_map_key(key)] = offset

    def get(self, key: bytes) -> int:
        """The latest offset of ``key``, or -1 if the dirty section does not have it."""
        return self._offsets.get(_map_key(key), -1)

    def update_latest_offset(self, offset: int) -> None:
        self.latest_offset = offset

    def clear(self) -> None:
        self._offsets.clear()
        self.latest_offset = -1
