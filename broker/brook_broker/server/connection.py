"""One client connection: size-prefixed framing, strictly ordered request processing, limits.

Kafka answers requests on a connection in the order they arrived, even when one of them
waits (acks=all, long-poll fetch). The simplest way to guarantee that is Kafka's own: one
request at a time per connection. Frames are read by an `asyncio.BufferedProtocol` into a
reusable buffer (large frames get a buffer of their own, filled straight from the socket),
queued, and handled by one worker task per connection.

Back-pressure: reading pauses while too many requests are queued, and the worker waits for
the transport to drain before it takes the next request, so a slow consumer cannot make
the broker buffer without bound.

Fetch responses arrive as chunks: bytes, and record slices that point into segment files.
A slice goes out with ``os.sendfile`` straight from the page cache when the transport has
nothing buffered (so ordering is kept) and the socket accepts it; whatever the kernel does
not take goes through ``os.pread`` and the transport. uvloop has no ``loop.sendfile``, which
is why this is done by hand here.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import os
import struct
import typing
from typing import Any, Protocol

from brook_broker.apis.dispatcher import CloseConnection, Dispatcher

logger = logging.getLogger(__name__)

_SIZE = struct.Struct(">i")
_SCRATCH_SIZE = 256 * 1024
#: Requests queued per connection before reading pauses (Kafka: queued.max.requests, per broker).
_MAX_QUEUED = 64


class RecordsSlice(Protocol):
    """A byte range of a segment file (structurally: the log layer's file slice)."""

    fd: int
    position: int
    size: int


class KafkaConnection(asyncio.BufferedProtocol):
    def __init__(
        self,
        *,
        dispatcher: Dispatcher,
        listener: str,
        max_request_size: int,
        connections: set[KafkaConnection],
    ) -> None:
        self._dispatcher = dispatcher
        self._listener = listener
        self._max_request_size = max_request_size
        self._connections = connections
        self._transport: asyncio.Transport | None = None
        self._peer = "?"
        self._socket_fd = -1
        self._scratch = bytearray(_SCRATCH_SIZE)
        self._scratch_view = memoryview(self._scratch)
        self._start = 0  # first unparsed byte in scratch
        self._end = 0  # end of received bytes in scratch
        self._frame: bytearray | None = None  # a large frame being filled directly
        self._frame_filled = 0
        self._queue: collections.deque[bytes | memoryview] = collections.deque()
        self._wakeup: asyncio.Event = asyncio.Event()
        self._writable: asyncio.Event = asyncio.Event()
        self._writable.set()
        self._reading_paused = False
        self._closing = False
        self._worker: asyncio.Task[None] | None = None
        self.in_flight = False

    # --- asyncio protocol callbacks -------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports implement asyncio.Transport without subclassing it.
        self._transport = typing.cast(asyncio.Transport, transport)
        peer = transport.get_extra_info("peername")
        self._peer = f"{peer[0]}:{peer[1]}" if peer else "?"
        sock = transport.get_extra_info("socket")
        # sendfile is only safe on a plain socket: TLS would need the bytes in user space.
        if sock is not None and transport.get_extra_info("sslcontext") is None:
            self._socket_fd = sock.fileno()
        self._connections.add(self)
        self._worker = asyncio.get_running_loop().create_task(self._work(), name=f"connection {self._peer}")

    def connection_lost(self, exc: Exception | None) -> None:
        self._closing = True
        self._connections.discard(self)
        self._wakeup.set()
        self._writable.set()
        if self._worker is not None and not self.in_flight:
            self._worker.cancel()

    def pause_writing(self) -> None:
        self._writable.clear()

    def resume_writing(self) -> None:
        self._writable.set()

    def get_buffer(self, sizehint: int) -> memoryview:
        if self._frame is not None:
            return memoryview(self._frame)[self._frame_filled :]
        if self._end == len(self._scratch):
            self._compact()
        return self._scratch_view[self._end :]

    def buffer_updated(self, nbytes: int) -> None:
        if self._frame is not None:
            self._frame_filled += nbytes
            if self._frame_filled == len(self._frame):
                # kio reads only immutable buffers; a read-only view costs no copy.
                self._enqueue(memoryview(self._frame).toreadonly())
                self._frame = None
            return
        self._end += nbytes
        self._parse_frames()

    def eof_received(self) -> bool | None:
        return None  # close our side too

    # --- framing --------------------------------------------------------------------

    def _compact(self) -> None:
        remaining = self._end - self._start
        self._scratch[:remaining] = self._scratch[self._start : self._end]
        self._start, self._end = 0, remaining

    def _parse_frames(self) -> None:
        scratch = self._scratch
        while self._end - self._start >= 4:
            (size,) = _SIZE.unpack_from(scratch, self._start)
            if size < 0 or size > self._max_request_size:
                # Kafka's InvalidReceiveException: the connection cannot be resynchronised.
                logger.warning(
                    "closing connection from %s: request of %d bytes exceeds socket.request.max.bytes=%d",
                    self._peer,
                    size,
                    self._max_request_size,
                )
                self.close()
                return
            body_start = self._start + 4
            available = self._end - body_start
            if available >= size:
                self._enqueue(bytes(scratch[body_start : body_start + size]))
                self._start = body_start + size
                continue
            if size > len(scratch) // 2:
                # Large frame: give it its own buffer and let the socket fill it directly.
                frame = bytearray(size)
                frame[:available] = scratch[body_start : self._end]
                self._frame, self._frame_filled = frame, available
                self._start = self._end = 0
                return
            break
        if self._start == self._end:
            self._start = self._end = 0
        elif self._start > len(scratch) // 2:
            self._compact()

    def _enqueue(self, frame: bytes | memoryview) -> None:
        self._queue.append(frame)
        self._wakeup.set()
        if len(self._queue) >= _MAX_QUEUED and not self._reading_paused and self._transport is not None:
            self._transport.pause_reading()
            self._reading_paused = True

    # --- processing -----------------------------------------------------------------

    async def _work(self) -> None:
        client_host = self._peer.rsplit(":", 1)[0]
        while not self._closing:
            if not self._queue:
                self._wakeup.clear()
                await self._wakeup.wait()
                continue
            frame = self._queue.popleft()
            if self._reading_paused and len(self._queue) < _MAX_QUEUED // 2 and self._transport is not None:
                self._transport.resume_reading()
                self._reading_paused = False
            self.in_flight = True
            try:
                response = await self._dispatcher.handle(
                    frame, listener=self._listener, client_host=client_host
                )
            except CloseConnection as exc:
                logger.info("closing connection from %s: %s", self._peer, exc)
                self.close()
                return
            except Exception:
                logger.exception(
                    "unexpected error handling a request from %s; closing the connection", self._peer
                )
                self.close()
                return
            finally:
                self.in_flight = False
            if response is not None and self._transport is not None and not self._transport.is_closing():
                self._send(response)
                if not self._writable.is_set():
                    await self._writable.wait()

    def _send(self, response: bytes | list[Any]) -> None:
        transport = self._transport
        assert transport is not None
        if isinstance(response, bytes | bytearray):
            transport.write(response)
            return
        for chunk in response:
            if isinstance(chunk, bytes | bytearray | memoryview):
                transport.write(chunk)
            else:
                self._send_slice(transport, chunk)

    def _send_slice(self, transport: asyncio.Transport, chunk: RecordsSlice) -> None:
        position, remaining = chunk.position, chunk.size
        if self._socket_fd >= 0 and transport.get_write_buffer_size() == 0:
            # Zero-copy while the kernel accepts it; nothing is queued ahead of us.
            try:
                while remaining > 0:
                    sent = os.sendfile(self._socket_fd, chunk.fd, position, remaining)
                    if sent == 0:
                        break
                    position += sent
                    remaining -= sent
            except (BlockingIOError, InterruptedError):
                pass
            except OSError:
                pass  # fall back to copying; the transport reports real socket errors
        if remaining > 0:
            transport.write(os.pread(chunk.fd, remaining, position))

    def close(self) -> None:
        self._closing = True
        self._wakeup.set()
        if self._transport is not None:
            self._transport.close()

    async def drain_and_close(self) -> None:
        """Graceful shutdown: let the request in flight finish, then close."""
        self._closing = True
        self._wakeup.set()
        if self._worker is not None:
            try:
                await asyncio.wait_for(asyncio.shield(self._worker), timeout=5)
            except (TimeoutError, asyncio.CancelledError):
                self._worker.cancel()
        if self._transport is not None:
            self._transport.close()
