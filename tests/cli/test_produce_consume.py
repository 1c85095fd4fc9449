"""`brook produce` and `brook consume` as subprocesses against a real broker.

Round trips (10k lines, every compression codec, keys, headers, partitions), the console
tools' output format, where consumption starts, how it stops (count, idle timeout, Ctrl-C,
a closed pipe) and the errors of bad input lines.
"""

from __future__ import annotations

import collections
import os
import re
import signal
import struct
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from harness.brook import BrookProcess, start_brook

Cli = Callable[..., Any]

#: RecordBatch attributes: the low three bits are the compression codec.
CODECS = {"none": 0, "gzip": 1, "snappy": 2, "lz4": 3, "zstd": 4}


def _create(brook_cli: Cli, topic: str, partitions: int = 1) -> None:
    result = brook_cli("topics", "create", topic, "--partitions", str(partitions))
    assert result.code == 0, result.stderr


def _consume(brook_cli: Cli, topic: str, count: int, *flags: str) -> list[str]:
    result = brook_cli(
        "consume", topic, "--from-beginning", "--max-messages", str(count), "--timeout-ms", "30000", *flags
    )
    assert result.code == 0, result.stderr
    assert result.stderr_lines[-1] == f"Processed a total of {count} messages"
    lines: list[str] = result.stdout.splitlines()
    return lines


def _batch_codecs(brook: BrookProcess, topic: str, partition: int = 0) -> set[int]:
    """Codecs of the record batches in a partition's first segment, read from the broker's files."""
    data = (brook.data_dir / "logs" / f"{topic}-{partition}" / f"{0:020d}.log").read_bytes()
    codecs, position = set(), 0
    while position + 23 <= len(data):
        (length,) = struct.unpack_from(">i", data, position + 8)
        (attributes,) = struct.unpack_from(">h", data, position + 21)
        codecs.add(attributes & 0x7)
        position += 12 + length
    return codecs


def _popen(*args: str, bootstrap: str, **kwargs: Any) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "brook_broker", *args, "--bootstrap-server", bootstrap],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        **kwargs,
    )


# --- round trips ---------------------------------------------------------------------------


def test_ten_thousand_lines_round_trip(brook_cli: Cli, unique_topic: str) -> None:
    _create(brook_cli, unique_topic, partitions=3)
    lines = [f"key-{i % 97}:value {i} " + "x" * (i % 50) for i in range(10_000)]
    produced = brook_cli("produce", unique_topic, "--key-separator", ":", stdin="\n".join(lines) + "\n")
    assert produced.code == 0, produced.stderr
    summary = re.fullmatch(
        r"Produced 10,000 records \(([\d,]+) bytes\) to 3 partitions of (\S+) in [\d.]+ s\.\n",
        produced.stderr,
    )
    assert summary is not None, produced.stderr
    assert int(summary.group(1).replace(",", "")) == sum(len(line) - 1 for line in lines)

    rows = [
        r.split("\t")
        for r in _consume(
            brook_cli, unique_topic, 10_000, "--print-partition", "--print-offset", "--print-key"
        )
    ]
    assert sorted(f"{key}:{value}" for _, _, key, value in rows) == sorted(lines)
    by_partition = collections.defaultdict(list)
    for partition, offset, key, value in rows:
        by_partition[partition].append((int(offset.removeprefix("Offset:")), key, value))
    for records in by_partition.values():
        # Offsets are dense per partition and order within a key is the input order.
        assert [r[0] for r in records] == list(range(len(records)))
    partitions_of_key = collections.defaultdict(set)
    for partition, _, key, _ in rows:
        partitions_of_key[key].add(partition)
    assert all(len(p) == 1 for p in partitions_of_key.values())


@pytest.mark.parametrize("codec", sorted(CODECS))
def test_compression(brook_cli: Cli, shared_brook: BrookProcess, unique_topic: str, codec: str) -> None:
    _create(brook_cli, unique_topic)
    lines = [f"{codec} line {i} " + "abc" * 20 for i in range(500)]
    produced = brook_cli("produce", unique_topic, "--compression", codec, stdin="\n".join(lines) + "\n")
    assert produced.code == 0, produced.stderr
    assert _consume(brook_cli, unique_topic, len(lines)) == lines
    assert _batch_codecs(shared_brook, unique_topic) == {CODECS[codec]}


@pytest.mark.parametrize("acks", ["0", "1", "all"])
def test_acks(brook_cli: Cli, unique_topic: str, acks: str) -> None:
    _create(brook_cli, unique_topic)
    produced = brook_cli("produce", unique_topic, "--acks", acks, stdin="a\nb\nc\n")
    assert produced.code == 0, produced.stderr
    assert produced.stderr.startswith("Sent 3 records" if acks == "0" else "Produced 3 records")
    assert _consume(brook_cli, unique_topic, 3) == ["a", "b", "c"]


def test_headers_keys_and_every_print_flag(brook_cli: Cli, unique_topic: str) -> None:
    _create(brook_cli, unique_topic)
    produced = brook_cli(
        "produce", unique_topic, "--key-separator", "::", "--header", "trace=abc", "--header", "empty=",
        stdin="k1::v1\nk2::v::2\n",
    )  # fmt: skip
    assert produced.code == 0, produced.stderr
    rows = _consume(
        brook_cli, unique_topic, 2,
        "--print-timestamp", "--print-partition", "--print-offset", "--print-headers", "--print-key",
    )  # fmt: skip
    for offset, (row, key, value) in enumerate(zip(rows, ["k1", "k2"], ["v1", "v::2"], strict=True)):
        # Kafka's DefaultMessageFormatter order; the value keeps later separators.
        assert re.fullmatch(
            rf"CreateTime:\d{{13}}\tPartition:0\tOffset:{offset}\ttrace:abc,empty:\t{key}\t{value}", row
        )


def test_consumer_column_separator_and_nulls(brook_cli: Cli, unique_topic: str) -> None:
    _create(brook_cli, unique_topic)
    assert brook_cli("produce", unique_topic, stdin="no key\n").code == 0
    assert _consume(
        brook_cli, unique_topic, 1, "--print-key", "--print-headers", "--key-separator", " | "
    ) == ["NO_HEADERS | null | no key"]


def test_lines_as_the_console_producer_reads_them(brook_cli: Cli, unique_topic: str) -> None:
    _create(brook_cli, unique_topic)
    # Empty lines are empty records, CRLF endings are stripped, the last line needs no newline.
    produced = brook_cli("produce", unique_topic, stdin=b"first\r\n\nthird\nlast without newline")
    assert produced.code == 0, produced.stderr
    assert _consume(brook_cli, unique_topic, 4) == ["first", "", "third", "last without newline"]


def test_produce_to_one_partition(brook_cli: Cli, unique_topic: str) -> None:
    _create(brook_cli, unique_topic, partitions=3)
    produced = brook_cli("produce", unique_topic, "--partition", "2", stdin="a\nb\nc\nd\n")
    assert produced.code == 0, produced.stderr
    assert "to 1 partition of" in produced.stderr
    assert _consume(brook_cli, unique_topic, 4, "--print-partition") == [f"Partition:2\t{v}" for v in "abcd"]


def test_missing_key_separator_names_the_line(brook_cli: Cli, unique_topic: str) -> None:
    _create(brook_cli, unique_topic)
    produced = brook_cli(
        "produce", unique_topic, "--key-separator", ":", stdin="a:1\nb:2\nno separator here\nc:3\n"
    )
    assert produced.code == 1
    assert produced.stderr_lines[-1] == "error: no key separator ':' on line 3: 'no separator here'"
    # As with Kafka's console producer, the lines before the bad one were sent.
    assert produced.stderr_lines[0].startswith("Produced 2 records")
    assert _consume(brook_cli, unique_topic, 2, "--print-key") == ["a\t1", "b\t2"]


def test_produce_errors(brook_cli: Cli, unique_topic: str) -> None:
    _create(brook_cli, unique_topic, partitions=2)
    wrong_partition = brook_cli("produce", unique_topic, "--partition", "5", stdin="x\n")
    assert wrong_partition.code == 1
    assert wrong_partition.stderr_lines == [f"error: topic '{unique_topic}' has no partition 5 (it has 2)"]


@pytest.mark.parametrize("size", [5_000, 2_000_000], ids=["over max.message.bytes", "over a request"])
def test_record_too_large(brook_cli: Cli, unique_topic: str, size: int) -> None:
    assert brook_cli("topics", "create", unique_topic, "--config", "max.message.bytes=1000").code == 0
    produced = brook_cli("produce", unique_topic, stdin="x" * size + "\n")
    assert produced.code == 1
    summary, error = produced.stderr_lines
    # The 5 kB record is sent and refused by the broker; the 2 MB one never leaves the client.
    sent = "0 of 1 record" if size < 1_000_000 else "0 records"
    assert summary.startswith(f"Produced {sent} (0 bytes) to 0 partitions of {unique_topic} in ")
    assert error == f"error: line 1: record too large for topic '{unique_topic}' (MESSAGE_TOO_LARGE)"


def test_unknown_topic_without_auto_create(tmp_path: Path, run_cli: Cli) -> None:
    with start_brook(tmp_path / "brook", auto_create_topics_enable="false") as brook:
        produced = run_cli("produce", "missing", "--bootstrap-server", brook.bootstrap, stdin="x\n")
    assert produced.code == 1
    assert produced.stderr_lines == ["error: topic 'missing' does not exist (UNKNOWN_TOPIC_OR_PARTITION)"]


# --- where consumption starts and how it stops ---------------------------------------------


def test_partition_and_offset(brook_cli: Cli, unique_topic: str) -> None:
    _create(brook_cli, unique_topic, partitions=2)
    assert brook_cli("produce", unique_topic, "--partition", "1", stdin="r0\nr1\nr2\nr3\n").code == 0
    assert brook_cli("produce", unique_topic, "--partition", "0", stdin="other\n").code == 0
    rows = _consume_from(brook_cli, unique_topic, "--partition", "1", "--offset", "2", "--print-offset")
    assert rows == ["Offset:2\tr2", "Offset:3\tr3"]
    assert _consume_from(brook_cli, unique_topic, "--partition", "1", "--offset", "earliest") == [
        "r0",
        "r1",
        "r2",
        "r3",
    ]
    assert _consume_from(brook_cli, unique_topic, "--offset", "latest") == []
    assert sorted(_consume_from(brook_cli, unique_topic, "--offset", "earliest")) == [
        "other",
        "r0",
        "r1",
        "r2",
        "r3",
    ]


def _consume_from(brook_cli: Cli, topic: str, *flags: str) -> list[str]:
    """Everything from the start position on, ending after a short idle time."""
    result = brook_cli("consume", topic, "--timeout-ms", "1500", *flags)
    assert result.code == 0, result.stderr
    lines: list[str] = result.stdout.splitlines()
    assert result.stderr_lines == [f"Processed a total of {len(lines)} messages"]
    return lines


def test_latest_reads_only_new_records(shared_brook: BrookProcess, brook_cli: Cli, unique_topic: str) -> None:
    _create(brook_cli, unique_topic)
    assert brook_cli("produce", unique_topic, stdin="old\n").code == 0
    consumer = _popen("consume", unique_topic, "--max-messages", "1", bootstrap=shared_brook.bootstrap)
    try:
        # The consumer gives no sign of being ready, so keep producing until it has read one.
        for attempt in range(60):
            assert brook_cli("produce", unique_topic, stdin=f"new {attempt}\n").code == 0
            try:
                out, err = consumer.communicate(timeout=1)
                break
            except subprocess.TimeoutExpired:
                continue
        else:
            pytest.fail("the consumer never read a new record")
    finally:
        consumer.kill()
    assert consumer.returncode == 0
    assert re.fullmatch(rb"new \d+\n", out), out
    assert err == b"Processed a total of 1 messages\n"


def test_idle_timeout_on_an_empty_topic(brook_cli: Cli, unique_topic: str) -> None:
    _create(brook_cli, unique_topic)
    result = brook_cli("consume", unique_topic, "--from-beginning", "--timeout-ms", "300")
    assert (result.code, result.stdout, result.stderr) == (0, "", "Processed a total of 0 messages\n")


def test_ctrl_c_stops_consume_cleanly(shared_brook: BrookProcess, brook_cli: Cli, unique_topic: str) -> None:
    _create(brook_cli, unique_topic)
    assert brook_cli("produce", unique_topic, stdin="one\ntwo\nthree\n").code == 0
    consumer = _popen("consume", unique_topic, "--from-beginning", bootstrap=shared_brook.bootstrap)
    try:
        assert consumer.stdout is not None
        received = [consumer.stdout.readline() for _ in range(3)]
        consumer.send_signal(signal.SIGINT)
        _, err = consumer.communicate(timeout=30)
    finally:
        consumer.kill()
    assert received == [b"one\n", b"two\n", b"three\n"]
    assert consumer.returncode == 0
    assert err == b"Processed a total of 3 messages\n"


def test_ctrl_c_stops_produce_after_acknowledgements(
    shared_brook: BrookProcess, brook_cli: Cli, unique_topic: str
) -> None:
    _create(brook_cli, unique_topic)
    producer = _popen("produce", unique_topic, bootstrap=shared_brook.bootstrap, stdin=subprocess.PIPE)
    try:
        assert producer.stdin is not None
        producer.stdin.write(b"typed 1\ntyped 2\n")
        producer.stdin.flush()
        # Lines are sent as they are typed: wait until both are readable, then press Ctrl-C.
        assert _consume(brook_cli, unique_topic, 2) == ["typed 1", "typed 2"]
        producer.send_signal(signal.SIGINT)
        _, err = producer.communicate(timeout=30)
    finally:
        producer.kill()
    assert producer.returncode == 130
    assert err.decode().startswith("Produced 2 records")
    assert "Traceback" not in err.decode()


def test_closed_stdout_ends_consume_quietly(
    shared_brook: BrookProcess, brook_cli: Cli, unique_topic: str
) -> None:
    """``brook consume ... | head -1``: more output than a pipe holds, then the reader leaves."""
    _create(brook_cli, unique_topic)
    lines = "".join(f"record number {i:08d}\n" for i in range(20_000))
    assert brook_cli("produce", unique_topic, stdin=lines).code == 0
    consumer = _popen(
        "consume", unique_topic, "--from-beginning", "--timeout-ms", "5000", bootstrap=shared_brook.bootstrap
    )
    try:
        assert consumer.stdout is not None and consumer.stderr is not None
        assert consumer.stdout.readline() == b"record number 00000000\n"
        consumer.stdout.close()
        code = consumer.wait(timeout=60)
        err = consumer.stderr.read().decode()
    finally:
        consumer.kill()
    assert code == 0
    assert "Traceback" not in err and "BrokenPipe" not in err
    assert re.fullmatch(r"Processed a total of \d+ messages\n", err)


def test_consume_errors(brook_cli: Cli, unique_topic: str) -> None:
    missing = brook_cli("consume", unique_topic, "--timeout-ms", "100")
    assert missing.code == 1
    assert missing.stderr_lines == [
        f"error: topic '{unique_topic}' does not exist (UNKNOWN_TOPIC_OR_PARTITION)"
    ]
    _create(brook_cli, unique_topic)
    wrong_partition = brook_cli("consume", unique_topic, "--partition", "3", "--timeout-ms", "100")
    assert wrong_partition.code == 1
    assert wrong_partition.stderr_lines == [f"error: topic '{unique_topic}' has no partition 3 (it has 1)"]


def test_runs_as_the_installed_brook_script(
    shared_brook: BrookProcess, unique_topic: str, tmp_path: Path
) -> None:
    """The ``brook`` console script and ``python -m brook_broker`` are the same program."""
    script = Path(sys.executable).parent / "brook"
    if not script.exists():
        pytest.skip("no installed brook script in this environment")
    env = {**os.environ, "BROOK_BOOTSTRAP_SERVER": shared_brook.bootstrap}
    result = subprocess.run(
        [script, "topics", "create", unique_topic], capture_output=True, env=env, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
