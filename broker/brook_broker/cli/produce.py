"""`brook produce TOPIC`: one record per stdin line, like kafka-console-producer.sh.

Registered by `cli.main`. With ``--key-separator`` each line is ``KEY<sep>VALUE`` (the
console producer's ``parse.key=true``), split at the first separator; a line without one
stops the command with its line number, as Kafka's LineMessageReader does, after the
records before it are acknowledged. The exit code is 0 only when every record was
acknowledged; a one-line summary goes to stderr either way.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import functools
import os
import signal
import sys
import threading
import time
from collections.abc import AsyncIterator
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError
from kio.schema.errors import ErrorCode

from brook_broker.cli.client import Admin, KafkaApiError
from brook_broker.cli.common import (
    EXIT_OK,
    EXIT_USAGE,
    add_connection_options,
    from_aiokafka,
    key_value,
    run_client,
    settings_from,
)
from brook_broker.cli.connection import ConnectionSettings
from brook_broker.cli.errors import CliError

#: stdin is read in chunks of this size; lines are split out of them in the event loop.
CHUNK_BYTES = 64 * 1024
#: Chunks read ahead of the producer: bounds memory when stdin is faster than the broker.
READ_AHEAD_CHUNKS = 16
EXIT_INTERRUPTED = 130
_ACKS = {"0": 0, "1": 1, "all": "all"}


def register(commands: Any) -> None:
    produce = commands.add_parser("produce", help="send stdin lines to a topic, one record per line")
    produce.add_argument("topic", metavar="TOPIC")
    produce.add_argument(
        "--key-separator", metavar="SEP", help="split each line into KEY<SEP>VALUE at the first SEP"
    )
    produce.add_argument("--partition", type=int, metavar="P", help="send every record to partition P")
    produce.add_argument("--acks", choices=sorted(_ACKS), default="all", help="default: all")
    produce.add_argument(
        "--compression",
        choices=["none", "gzip", "snappy", "lz4", "zstd"],
        default="none",
        help="default: none",
    )
    produce.add_argument(
        "--header",
        type=key_value,
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="add to every record",
    )
    add_connection_options(produce)
    produce.set_defaults(run=run_produce)


def run_produce(args: argparse.Namespace) -> int:
    if args.key_separator == "":
        raise CliError("--key-separator must not be empty", exit_code=EXIT_USAGE)
    if args.partition is not None and args.partition < 0:
        raise CliError("--partition must be 0 or more", exit_code=EXIT_USAGE)
    settings = settings_from(args)
    return run_client(_produce(args, settings), settings=settings)


@dataclasses.dataclass
class _Tally:
    """Acknowledgements as they arrive (producer futures complete out of our loop's order)."""

    sent: int = 0
    acked: int = 0
    bytes: int = 0
    partitions: set[int] = dataclasses.field(default_factory=set)
    #: The first failure in input order: ``(line number, exception)``.
    failure: tuple[int, BaseException] | None = None

    def fail(self, line: int, exc: BaseException) -> None:
        if self.failure is None or line < self.failure[0]:
            self.failure = (line, exc)

    def on_done(self, line: int, size: int, future: asyncio.Future[Any]) -> None:
        if future.cancelled():
            return
        if (exc := future.exception()) is not None:
            self.fail(line, exc)
            return
        self.acked += 1
        self.bytes += size
        metadata = future.result()
        if metadata is not None:  # acks=0: aiokafka resolves with None, partition unknown
            self.partitions.add(metadata.partition)

    def summary(self, topic: str, *, acks: str, elapsed_s: float) -> str:
        """The stderr line: ``Produced 3 records (63 bytes) to 2 partitions of t in 0.05 s.``"""
        records = _plural(self.sent, "record")
        if self.acked != self.sent:
            records = f"{self.acked:,} of {records}"
        size = _plural(self.bytes, "byte")
        if acks == "0":
            return f"Sent {records} ({size}) to {topic} in {elapsed_s:.2f} s (acks=0: unconfirmed)."
        partitions = _plural(len(self.partitions), "partition")
        return f"Produced {records} ({size}) to {partitions} of {topic} in {elapsed_s:.2f} s."


async def _produce(args: argparse.Namespace, settings: ConnectionSettings) -> int:
    await _check_topic(args.topic, args.partition, settings)
    separator = args.key_separator.encode() if args.key_separator is not None else None
    headers = [(k, v.encode()) for k, v in args.header] or None
    producer = AIOKafkaProducer(
        **settings.aiokafka_options(),
        acks=_ACKS[args.acks],
        compression_type=None if args.compression == "none" else args.compression,
        # Bigger batches than aiokafka's 16 KiB: per-request cost dominates on the broker.
        max_batch_size=256 * 1024,
        linger_ms=5,
    )
    await producer.start()
    tally = _Tally()
    started = time.monotonic()
    interrupted = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGINT, interrupted.set)
    bad_line: str | None = None
    try:
        async for number, line in _stdin_lines(interrupted):
            key: bytes | None = None
            value = line
            if separator is not None:
                key, found, value = line.partition(separator)
                if not found:
                    bad_line = f"no key separator {args.key_separator!r} on line {number}: {_preview(line)}"
                    break
            try:
                future = await producer.send(
                    args.topic, value, key=key, partition=args.partition, headers=headers
                )
            except KafkaError as exc:  # refused before sending, e.g. larger than a request may be
                tally.fail(number, exc)
                break
            future.add_done_callback(functools.partial(tally.on_done, number, len(value) + len(key or b"")))
            tally.sent += 1
            if tally.failure is not None:
                break
        await producer.flush()
    finally:
        loop.remove_signal_handler(signal.SIGINT)
        await producer.stop()
    print(tally.summary(args.topic, acks=args.acks, elapsed_s=time.monotonic() - started), file=sys.stderr)
    if tally.failure is not None:
        failed_line, cause = tally.failure
        error = from_aiokafka(cause, topic=args.topic) if isinstance(cause, KafkaError) else cause
        raise CliError(f"line {failed_line}: {error}")
    if bad_line is not None:
        raise CliError(bad_line)
    return EXIT_INTERRUPTED if interrupted.is_set() else EXIT_OK


async def _check_topic(topic: str, partition: int | None, settings: ConnectionSettings) -> None:
    """Fail fast on an unknown topic or partition instead of waiting out the producer's timeout."""
    async with Admin(settings) as admin:
        try:
            # The producer's own metadata request lets the broker auto-create; so does this one.
            (description,) = await admin.describe_topics([topic], allow_auto_create=True)
        except KafkaApiError as exc:
            if exc.code == ErrorCode.leader_not_available:
                return  # just auto-created; the producer waits for the leader
            raise
    count = len(description.partitions)
    if partition is not None and partition >= count:
        raise CliError(f"topic '{topic}' has no partition {partition} (it has {count})")


async def _stdin_lines(interrupted: asyncio.Event) -> AsyncIterator[tuple[int, bytes]]:
    """``(line number, line)`` from stdin, without the line ending, until EOF or Ctrl-C.

    A daemon thread does the blocking reads, so a terminal, a pipe or a regular file all
    work, records typed by hand are sent as soon as the line ends, and an interrupted
    command never waits for the thread.
    """
    loop = asyncio.get_running_loop()
    chunks: asyncio.Queue[bytes] = asyncio.Queue()
    slots = threading.Semaphore(READ_AHEAD_CHUNKS)
    reader = threading.Thread(
        target=_read_chunks, args=(sys.stdin.fileno(), loop, chunks, slots), daemon=True, name="stdin"
    )
    reader.start()
    stop = asyncio.ensure_future(interrupted.wait())
    pending = b""
    number = 0
    try:
        while True:
            get = asyncio.ensure_future(chunks.get())
            await asyncio.wait({get, stop}, return_when=asyncio.FIRST_COMPLETED)
            if not get.done():
                get.cancel()
                return
            chunk = get.result()
            slots.release()
            if not chunk:
                break
            *lines, pending = (pending + chunk).split(b"\n")
            for line in lines:
                number += 1
                yield number, line.removesuffix(b"\r")
        if pending:
            # The last line counts even without a final newline, as in Kafka's reader.
            yield number + 1, pending.removesuffix(b"\r")
    finally:
        stop.cancel()


def _read_chunks(
    fd: int, loop: asyncio.AbstractEventLoop, chunks: asyncio.Queue[bytes], slots: threading.Semaphore
) -> None:
    while True:
        slots.acquire()
        try:
            chunk = os.read(fd, CHUNK_BYTES)
        except OSError:
            chunk = b""
        with contextlib.suppress(RuntimeError):  # the loop is gone: the command has ended
            loop.call_soon_threadsafe(chunks.put_nowait, chunk)
        if not chunk:
            return


def _preview(line: bytes, limit: int = 60) -> str:
    text = line.decode(errors="replace")
    return repr(text if len(text) <= limit else text[:limit] + "...")


def _plural(count: int, noun: str) -> str:
    return f"{count:,} {noun}{'' if count == 1 else 's'}"
