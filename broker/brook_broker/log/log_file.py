"""One segment's ``.log`` file: appends, positioned reads and batch-header scans.

This is the file half of Kafka's ``FileRecords``; `LogSegment` owns one and adds the
indexes. Appends go through ``os.writev`` on a descriptor opened ``O_APPEND`` so a produce
is written straight from the request buffer (a rewritten 16-byte prefix plus a view of the
rest of each batch). Reads never pull batch bodies into Python except where a caller asks
for them (recovery's CRC check, record-level timestamp search): scans read headers only.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Sequence
from pathlib import Path

from brook_broker.log.results import FileRecords, LogOffsetPosition
from brook_broker.protocol.errors import KafkaStorageError
from brook_broker.protocol.records import (
    LOG_OVERHEAD,
    RECORD_BATCH_OVERHEAD,
    RecordBatchHeader,
    read_header,
)

Buffer = bytes | bytearray | memoryview

#: Headers are read in chunks of this size: a chunk holds many small batches' headers, and a
#: large batch costs one read of its header only.
_HEADER_CHUNK = 16 * 1024
#: Whole batches (for CRC checks) are read in chunks of this size.
_DATA_CHUNK = 1024 * 1024
#: Linux accepts at most this many buffers per writev.
_IOV_MAX = 1024
_MIN_BATCH_LENGTH = RECORD_BATCH_OVERHEAD - LOG_OVERHEAD


class LogFile:
    """An append-only file of record batches with a known size (bytes at or after it are not data)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o644)
        self._size = os.fstat(self.fd).st_size

    @property
    def size(self) -> int:
        return self._size

    def append(self, buffers: Sequence[Buffer], size: int) -> None:
        """Write ``buffers`` (``size`` bytes in all) at the end; all or nothing.

        A failed or short write is cut back to the old end, so the file never keeps a torn
        batch that the next append would bury in the middle of the log.
        """
        start = self._size
        try:
            written = os.writev(self.fd, buffers) if len(buffers) <= _IOV_MAX else 0
            if written != size:
                # Rare: a short write (signal, nearly full disk) or too many buffers; finish it.
                written += self._writev_all(_advance(list(buffers), written))
        except OSError as exc:
            self._undo_append(start)
            raise KafkaStorageError(f"append to {self.path} failed: {exc}") from exc
        if written != size:
            self._undo_append(start)
            raise KafkaStorageError(f"append to {self.path} wrote {written} of {size} bytes")
        self._size = start + size

    def _writev_all(self, pending: list[Buffer]) -> int:
        # writev may write less than asked (a signal, a nearly full disk): continue from there.
        written = 0
        while pending:
            done = os.writev(self.fd, pending[:_IOV_MAX])
            if done == 0:
                break
            written += done
            pending = _advance(pending, done)
        return written

    def _undo_append(self, size: int) -> None:
        # If even this fails the directory is failing; the loader recovers the torn tail.
        with contextlib.suppress(OSError):
            os.ftruncate(self.fd, size)

    def slice(self, position: int, size: int) -> FileRecords:
        return FileRecords(self.fd, position, size)

    def read(self, position: int, size: int) -> bytes:
        return FileRecords(self.fd, position, size).read_bytes()

    def truncate_to(self, size: int) -> int:
        """Cut the file to ``size`` bytes; returns the bytes removed."""
        if size > self._size or size < 0:
            raise ValueError(f"cannot truncate {self.path} of {self._size} bytes to {size}")
        removed = self._size - size
        if removed:
            os.ftruncate(self.fd, size)
            self._size = size
        return removed

    def batch_headers(
        self, start: int = 0, end: int | None = None
    ) -> Iterator[tuple[int, RecordBatchHeader]]:
        """``(position, header)`` of each batch that lies wholly in ``[start, end)``.

        Stops at a length that cannot be right (shorter than a header, past ``end``): the
        caller sees where the readable prefix ends and decides what that means.
        """
        end = self._size if end is None else min(end, self._size)
        position = start
        chunk = b""
        chunk_start = start
        while end - position >= RECORD_BATCH_OVERHEAD:
            offset_in_chunk = position - chunk_start
            if len(chunk) - offset_in_chunk < RECORD_BATCH_OVERHEAD:
                chunk = os.pread(self.fd, min(_HEADER_CHUNK, end - position), position)
                chunk_start, offset_in_chunk = position, 0
                if len(chunk) < RECORD_BATCH_OVERHEAD:
                    return
            header = read_header(chunk, offset_in_chunk)
            if header.batch_length < _MIN_BATCH_LENGTH or position + header.size > end:
                return
            yield position, header
            position += header.size

    def batches(
        self, start: int = 0, end: int | None = None
    ) -> Iterator[tuple[int, RecordBatchHeader, memoryview]]:
        """Like `batch_headers`, with each batch's bytes (read in large chunks)."""
        return read_batches(self.fd, start, self._size if end is None else min(end, self._size))

    def search_for_offset_with_size(
        self, target_offset: int, start_position: int
    ) -> LogOffsetPosition | None:
        """The first batch from ``start_position`` whose last offset is >= target (Kafka's namesake).

        Comparing the *last* offset is what makes a fetch from the middle of a batch return
        that whole batch instead of skipping to the next one.
        """
        for position, header in self.batch_headers(start_position):
            if header.last_offset >= target_offset:
                return LogOffsetPosition(header.base_offset, position, header.size)
        return None

    def last_batch_end(self, start_position: int, limit: int) -> int:
        """End of the last whole batch that starts at ``start_position`` or later and ends by ``limit``."""
        end = start_position
        for position, header in self.batch_headers(start_position, limit):
            end = position + header.size
        return end

    def flush(self) -> None:
        # A flush may run in a thread while the log closes the segment; skip closed files.
        if self.fd >= 0:
            os.fsync(self.fd)

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def rename_to(self, path: Path) -> None:
        os.rename(self.path, path)
        self.path = path

    def delete(self) -> None:
        self.path.unlink(missing_ok=True)

    def last_modified_ms(self) -> int:
        try:
            return os.stat(self.path).st_mtime_ns // 1_000_000
        except FileNotFoundError:
            return 0


def read_batches(fd: int, start: int, end: int) -> Iterator[tuple[int, RecordBatchHeader, memoryview]]:
    """``(position, header, bytes)`` of each whole batch of ``fd`` in ``[start, end)``.

    `LogFile.batches` reads through the segment's descriptor; the log cleaner reads through
    a descriptor of its own, which stays valid when the segment is renamed or deleted meanwhile.
    """
    position = start
    chunk = b""
    chunk_start = start
    while end - position >= RECORD_BATCH_OVERHEAD:
        offset_in_chunk = position - chunk_start
        if len(chunk) - offset_in_chunk < RECORD_BATCH_OVERHEAD:
            chunk = os.pread(fd, min(_DATA_CHUNK, end - position), position)
            chunk_start, offset_in_chunk = position, 0
            if len(chunk) < RECORD_BATCH_OVERHEAD:
                return
        header = read_header(chunk, offset_in_chunk)
        size = header.size
        if header.batch_length < _MIN_BATCH_LENGTH or position + size > end:
            return
        if len(chunk) - offset_in_chunk < size:
            # The batch runs past the chunk: read from its start, at least the whole batch.
            chunk = os.pread(fd, min(max(_DATA_CHUNK, size), end - position), position)
            chunk_start, offset_in_chunk = position, 0
            if len(chunk) < size:
                return
        yield position, header, memoryview(chunk)[offset_in_chunk : offset_in_chunk + size]
        position += size


def _advance(buffers: list[Buffer], done: int) -> list[Buffer]:
    """The buffers still to write after ``done`` bytes of ``buffers`` went out."""
    for index, buffer in enumerate(buffers):
        length = len(buffer)
        if done < length:
            rest = buffers[index:]
            if done:
                rest[0] = memoryview(buffer)[done:]
            return rest
        done -= length
    return []
