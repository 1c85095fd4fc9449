"""`brook consume TOPIC`: print records to stdout, like kafka-console-consumer.sh.

Registered by `cli.main`. Without ``--group`` the command assigns itself every partition of
the topic (or the one given with ``--partition``), seeks, and commits nothing. With
``--group G`` it subscribes as a member of G: the group's coordinator assigns the partitions,
reading starts at G's committed offsets (where there are none, at the end, or at the
beginning with ``--from-beginning`` — the console consumer's ``auto.offset.reset``), and the
position after every batch written to stdout is committed, so the next run with the same
group carries on after the last record printed.

Output is Kafka's DefaultMessageFormatter byte for byte: the value alone by default; with
the ``--print-*`` flags, timestamp, partition, offset, headers and key come first, in that
order, separated by ``--key-separator`` (a tab by default).

It stops after ``--max-messages``, after ``--timeout-ms`` without a record, or on Ctrl-C;
all three exit 0 and report "Processed a total of N messages" on stderr, as Kafka's tool does.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import sys
import time
from typing import Any, BinaryIO

from aiokafka import AIOKafkaConsumer
from aiokafka.errors import CommitFailedError
from aiokafka.structs import TopicPartition

from brook_broker.cli.client import Admin
from brook_broker.cli.common import EXIT_OK, EXIT_USAGE, add_connection_options, run_client, settings_from
from brook_broker.cli.connection import ConnectionSettings
from brook_broker.cli.errors import CliError

#: How often the fetch loop looks at Ctrl-C and the idle timeout while no records arrive.
POLL_MS = 200
_TIMESTAMP_TYPES = {0: "CreateTime", 1: "LogAppendTime"}


def register(commands: Any) -> None:
    consume = commands.add_parser("consume", help="print a topic's records, one value per line")
    consume.add_argument("topic", metavar="TOPIC")
    consume.add_argument(
        "--from-beginning",
        action="store_true",
        help="start at the earliest offset (same as --offset earliest)",
    )
    consume.add_argument(
        "--group", metavar="GROUP", help="consume as a member of this consumer group, committing offsets"
    )
    consume.add_argument("--max-messages", type=int, metavar="N", help="exit after N records")
    consume.add_argument("--partition", type=int, metavar="P", help="read only partition P")
    consume.add_argument(
        "--offset",
        default=None,
        metavar="earliest|latest|N",
        help="where to start (default: latest; N needs --partition)",
    )
    for field in ("key", "partition", "offset", "headers", "timestamp"):
        consume.add_argument(f"--print-{field}", action="store_true", help=f"print each record's {field}")
    consume.add_argument(
        "--key-separator", default="\t", metavar="SEP", help="between printed fields (default: tab)"
    )
    consume.add_argument(
        "--timeout-ms", type=int, metavar="MS", help="exit after MS milliseconds without a record"
    )
    add_connection_options(consume)
    consume.set_defaults(run=run_consume)


def run_consume(args: argparse.Namespace) -> int:
    args.start = _start_position(args)
    if args.max_messages is not None and args.max_messages < 1:
        raise CliError("--max-messages must be at least 1", exit_code=EXIT_USAGE)
    if args.timeout_ms is not None and args.timeout_ms < 0:
        raise CliError("--timeout-ms must be 0 or more", exit_code=EXIT_USAGE)
    settings = settings_from(args)
    return run_client(_consume(args, settings), settings=settings)


def _start_position(args: argparse.Namespace) -> str | int:
    """``"earliest"``, ``"latest"`` or an offset; the same checks as kafka-console-consumer.sh."""
    if args.group is not None and (args.partition is not None or (args.offset or "").isdigit()):
        # The coordinator decides which partitions a member reads, and the group's offsets where.
        raise CliError(
            "--group cannot be combined with --partition or a numeric --offset", exit_code=EXIT_USAGE
        )
    if args.offset is None:
        return "earliest" if args.from_beginning else "latest"
    if args.from_beginning:
        raise CliError("--from-beginning and --offset cannot be given together", exit_code=EXIT_USAGE)
    if args.offset in ("earliest", "latest"):
        return str(args.offset)
    if not args.offset.isdigit():
        raise CliError(
            f"--offset must be earliest, latest or a number, not {args.offset!r}", exit_code=EXIT_USAGE
        )
    if args.partition is None:
        raise CliError("--offset N needs --partition", exit_code=EXIT_USAGE)
    return int(args.offset)


async def _consume(args: argparse.Namespace, settings: ConnectionSettings) -> int:
    async with Admin(settings) as admin:
        (topic,) = await admin.describe_topics([args.topic])
    indexes = [p.partition for p in topic.partitions]
    if args.partition is not None:
        if args.partition not in indexes:
            raise CliError(f"topic '{args.topic}' has no partition {args.partition} (it has {len(indexes)})")
        indexes = [args.partition]
    partitions = [TopicPartition(args.topic, i) for i in indexes]

    consumer = AIOKafkaConsumer(
        **settings.aiokafka_options(),
        group_id=args.group,
        enable_auto_commit=False,
        # Where a numeric --offset outside the log lands, as in Kafka's console consumer; in a
        # group, where partitions without a committed offset start.
        auto_offset_reset="earliest" if args.start == "earliest" else "latest",
    )
    await consumer.start()
    formatter = MessageFormatter.from_args(args)
    out = sys.stdout.buffer
    count = 0
    interrupted = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGINT, interrupted.set)
    try:
        if args.group is not None:
            consumer.subscribe([args.topic])
        else:
            await _assign(consumer, partitions, args.start)
        last_record = time.monotonic()
        while not interrupted.is_set() and (args.max_messages is None or count < args.max_messages):
            wait_ms = POLL_MS
            if args.timeout_ms is not None:
                idle_ms = (time.monotonic() - last_record) * 1000
                if idle_ms >= args.timeout_ms:
                    break
                wait_ms = max(1, min(POLL_MS, int(args.timeout_ms - idle_ms)))
            remaining = None if args.max_messages is None else args.max_messages - count
            batches = await consumer.getmany(timeout_ms=wait_ms, max_records=remaining)
            if not batches:
                continue
            last_record = time.monotonic()
            lines = [formatter.format(r) for records in batches.values() for r in records]
            if not _write(out, b"".join(lines)):
                break
            count += len(lines)
            if args.group is not None:
                await _commit(consumer)
    finally:
        loop.remove_signal_handler(signal.SIGINT)
        await consumer.stop()
    print(f"Processed a total of {count} messages", file=sys.stderr)
    return EXIT_OK


async def _assign(consumer: AIOKafkaConsumer, partitions: list[TopicPartition], start: str | int) -> None:
    consumer.assign(partitions)
    if start == "earliest":
        await consumer.seek_to_beginning(*partitions)
    elif start == "latest":
        await consumer.seek_to_end(*partitions)
    else:
        consumer.seek(partitions[0], int(start))
    # Resolve the positions now: with "latest", records produced from here on are read.
    for partition in partitions:
        await consumer.position(partition)


async def _commit(consumer: AIOKafkaConsumer) -> None:
    """Commit the positions after what was just printed (at least once: print, then commit)."""
    # A rebalance may have taken partitions away first; their new owner reads from the last commit.
    with contextlib.suppress(CommitFailedError):
        await consumer.commit()


class MessageFormatter:
    """Kafka's DefaultMessageFormatter: optional fields, column separator, value, newline."""

    def __init__(
        self,
        *,
        key: bool = False,
        partition: bool = False,
        offset: bool = False,
        headers: bool = False,
        timestamp: bool = False,
        separator: bytes = b"\t",
    ) -> None:
        self.key = key
        self.partition = partition
        self.offset = offset
        self.headers = headers
        self.timestamp = timestamp
        self.separator = separator

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> MessageFormatter:
        return cls(
            key=args.print_key,
            partition=args.print_partition,
            offset=args.print_offset,
            headers=args.print_headers,
            timestamp=args.print_timestamp,
            separator=args.key_separator.encode(),
        )

    def format(self, record: Any) -> bytes:
        fields: list[bytes] = []
        if self.timestamp:
            kind = _TIMESTAMP_TYPES.get(record.timestamp_type)
            fields.append(f"{kind}:{record.timestamp}".encode() if kind else b"NO_TIMESTAMP")
        if self.partition:
            fields.append(b"Partition:%d" % record.partition)
        if self.offset:
            fields.append(b"Offset:%d" % record.offset)
        if self.headers:
            pairs = [k.encode() + b":" + _bytes_or_null(v) for k, v in record.headers]
            fields.append(b",".join(pairs) if pairs else b"NO_HEADERS")
        if self.key:
            fields.append(_bytes_or_null(record.key))
        fields.append(_bytes_or_null(record.value))
        return self.separator.join(fields) + b"\n"


def _bytes_or_null(value: bytes | None) -> bytes:
    return b"null" if value is None else bytes(value)


def _write(out: BinaryIO, data: bytes) -> bool:
    """Write and flush stdout; False when the reader went away (``brook consume ... | head``)."""
    try:
        out.write(data)
        out.flush()
    except BrokenPipeError:
        # Point stdout at /dev/null so the interpreter's own flush at exit stays quiet.
        with contextlib.suppress(OSError):
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, out.fileno())
        return False
    return True
