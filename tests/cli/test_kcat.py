"""`brook produce`/`brook consume` interoperate with kcat (librdkafka) in both directions.

The same quickstart data goes one way through kcat and the other through `brook`, so the
CLI's wire behaviour is checked against a client it shares no code with.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from typing import Any

import pytest

from harness.brook import BrookProcess

Cli = Callable[..., Any]

pytestmark = pytest.mark.skipif(shutil.which("kcat") is None, reason="kcat is not installed")

LINES = [
    "alice:Hello Kafka!",
    "bob:My first message",
    "alice:Will it arrive in real-time?",
    "carol:Real-time test!",
]


def _kcat(*args: str, stdin: bytes | None = None) -> str:
    result = subprocess.run(["kcat", *args], input=stdin, capture_output=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr.decode()
    return result.stdout.decode()


def test_kcat_produces_brook_consumes(shared_brook: BrookProcess, brook_cli: Cli, unique_topic: str) -> None:
    assert brook_cli("topics", "create", unique_topic, "--partitions", "3").code == 0
    payload = ("\n".join(LINES) + "\n").encode()
    _kcat(
        "-b", shared_brook.bootstrap, "-P", "-t", unique_topic, "-K", ":", "-H", "source=kcat", stdin=payload
    )

    result = brook_cli(
        "consume", unique_topic, "--from-beginning", "--print-key", "--print-partition", "--print-headers",
        "--max-messages", str(len(LINES)), "--timeout-ms", "30000",
    )  # fmt: skip
    assert result.code == 0, result.stderr
    rows = [line.split("\t") for line in result.stdout.splitlines()]
    assert sorted(f"{key}:{value}" for _, _, key, value in rows) == sorted(LINES)
    assert {headers for _, headers, _, _ in rows} == {"source:kcat"}
    # librdkafka partitions keys with its own hash, not murmur2, but still one partition per key.
    partitions_of = {key: {p for p, _, k, _ in rows if k == key} for _, _, key, _ in rows}
    assert all(len(p) == 1 for p in partitions_of.values())


@pytest.mark.parametrize("compression", ["none", "gzip", "snappy", "lz4", "zstd"])
def test_brook_produces_kcat_consumes(
    shared_brook: BrookProcess, brook_cli: Cli, unique_topic: str, compression: str
) -> None:
    assert brook_cli("topics", "create", unique_topic, "--partitions", "3").code == 0
    produced = brook_cli(
        "produce", unique_topic, "--key-separator", ":", "--compression", compression,
        "--header", "source=brook", stdin="\n".join(LINES) + "\n",
    )  # fmt: skip
    assert produced.code == 0, produced.stderr

    out = _kcat("-b", shared_brook.bootstrap, "-C", "-t", unique_topic, "-e", "-q", "-f", "%p\t%k\t%s\t%h\n")
    rows = [line.split("\t") for line in out.splitlines()]
    assert sorted(f"{key}:{value}" for _, key, value, _ in rows) == sorted(LINES)
    assert {headers for *_, headers in rows} == {"source=brook"}
    # Per key, kcat sees the records in the order brook sent them.
    for key in ("alice", "bob", "carol"):
        assert [v for _, k, v, _ in rows if k == key] == [
            line.split(":", 1)[1] for line in LINES if line.startswith(key)
        ]


def test_brook_and_kcat_agree_on_topics(
    shared_brook: BrookProcess, brook_cli: Cli, unique_topic: str
) -> None:
    assert brook_cli("topics", "create", unique_topic, "--partitions", "4").code == 0
    metadata = _kcat("-b", shared_brook.bootstrap, "-L", "-t", unique_topic)
    assert f'topic "{unique_topic}" with 4 partitions' in metadata
    assert brook_cli("topics", "delete", unique_topic).code == 0
    assert unique_topic not in brook_cli("topics", "list").stdout.splitlines()
