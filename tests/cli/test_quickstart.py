"""The console quickstart (seed 003 §6) with `brook` instead of kafka-topics/console tools.

Verbatim: create `hello-kafka` with 3 partitions and replication factor 1, type lines into
the producer, read them back from the beginning. Keys via ``--key-separator :`` show that
one key always lands in one partition.
"""

from __future__ import annotations

import collections
from collections.abc import Callable
from typing import Any

from harness.brook import BrookProcess

LINES = [
    "alice:Hello Kafka!",
    "bob:My first message",
    "carol:Will it arrive in real-time?",
    "alice:Real-time test!",
    "bob:second from bob",
    "carol:second from carol",
    "alice:third from alice",
]


def test_quickstart_with_keys(brook: BrookProcess, run_cli: Callable[..., Any]) -> None:
    run_brook = run_cli
    server = ["--bootstrap-server", brook.bootstrap]

    created = run_brook(
        "topics", "create", "hello-kafka", "--partitions", "3", "--replication-factor", "1", *server
    )
    assert created.code == 0, created.stderr
    assert created.stdout.strip() == "Created topic hello-kafka (3 partitions, replication factor 1)."

    listed = run_brook("topics", "list", *server)
    assert listed.stdout.splitlines() == ["hello-kafka"]

    produced = run_brook(
        "produce", "hello-kafka", "--key-separator", ":", *server, stdin="\n".join(LINES) + "\n"
    )
    assert produced.code == 0, produced.stderr
    assert produced.stderr.startswith(f"Produced {len(LINES)} records")

    consumed = run_brook(
        "consume", "hello-kafka", "--from-beginning", "--print-key", "--print-partition",
        "--max-messages", str(len(LINES)), "--timeout-ms", "20000", *server,
    )  # fmt: skip
    assert consumed.code == 0, consumed.stderr
    assert consumed.stderr.strip() == f"Processed a total of {len(LINES)} messages"
    rows = [line.split("\t") for line in consumed.stdout.splitlines()]
    assert all(len(row) == 3 and row[0].startswith("Partition:") for row in rows)

    partitions_of = collections.defaultdict(set)
    values_of = collections.defaultdict(list)
    for partition, key, value in rows:
        partitions_of[key].add(partition)
        values_of[key].append(value)
    # One key, one partition; and within it, the order the lines were typed.
    assert all(len(p) == 1 for p in partitions_of.values()), partitions_of
    for key in ("alice", "bob", "carol"):
        assert values_of[key] == [line.split(":", 1)[1] for line in LINES if line.startswith(key + ":")]


def test_quickstart_without_keys(brook: BrookProcess, run_cli: Callable[..., Any]) -> None:
    """The tutorial's literal flow: no keys, values back exactly as typed."""
    run_brook = run_cli
    server = ["--bootstrap-server", brook.bootstrap]
    assert run_brook("topics", "create", "hello-kafka", "--partitions", "3", *server).code == 0
    typed = ["Hello Kafka!", "My first message", "Will it arrive in real-time?"]
    assert run_brook("produce", "hello-kafka", *server, stdin="\n".join(typed) + "\n").code == 0
    consumed = run_brook("consume", "hello-kafka", "--from-beginning", "--max-messages", "3", *server)
    assert consumed.code == 0, consumed.stderr
    assert sorted(consumed.stdout.splitlines()) == sorted(typed)
