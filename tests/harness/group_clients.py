"""Consumer-group members as processes, and the producing and checking around them.

`GroupMember` runs `harness.group_member` (one real client: confluent-kafka, aiokafka or
kafka-python) in a child process and collects what it reports: its assignment after each
rebalance and every record it consumed and committed. Tests wait on those reports with
deadlines (`GroupMember.wait_for`), never by sleeping; `kill` is a crash (SIGKILL, no
LeaveGroup), `stop` a clean close.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Self

from confluent_kafka import ConsumerGroupTopicPartitions, KafkaError, Message, Producer, TopicPartition
from confluent_kafka.admin import AdminClient

from harness.kafka_clients import wait_until
from harness.processes import with_parent_death_signal

DEFAULT_TIMEOUT_S = 60.0
_TESTS_DIR = Path(__file__).resolve().parents[1]


@dataclass(frozen=True, slots=True)
class Consumed:
    partition: int
    offset: int
    value: str


class GroupMember:
    def __init__(
        self,
        *,
        client: str,
        bootstrap: str,
        group: str,
        topic: str,
        client_id: str = "member",
        instance_id: str | None = None,
        assignor: str = "range",
        session_ms: int = 10_000,
        max_records: int | None = None,
        pause_after: int | None = None,
        group_protocol: str = "classic",
    ) -> None:
        self.client = client
        self.name = client_id
        args = [sys.executable, "-m", "harness.group_member", "--client", client, "--bootstrap", bootstrap]
        args += ["--group", group, "--topic", topic, "--client-id", client_id, "--assignor", assignor]
        args += ["--session-ms", str(session_ms), "--group-protocol", group_protocol]
        if instance_id is not None:
            args += ["--instance-id", instance_id]
        if max_records is not None:
            args += ["--max-records", str(max_records)]
        if pause_after is not None:
            args += ["--pause-after", str(pause_after)]
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join([str(_TESTS_DIR), os.environ.get("PYTHONPATH", "")]),
        }
        self.proc = subprocess.Popen(
            with_parent_death_signal(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True
        )
        # Re-entrant: `wait_for` conditions read properties that take the lock too.
        self._lock = threading.RLock()
        self._changed = threading.Condition(self._lock)
        self.assignments: list[list[int]] = []
        self.records: list[Consumed] = []
        self.closed = False
        self.paused = False
        self._eof = False
        self._stderr: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()
        threading.Thread(target=self._read_stderr, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            try:
                event = json.loads(line)
            except json.JSONDecodeError:
                continue
            with self._changed:
                if event["event"] == "assigned":
                    self.assignments.append(event["partitions"])
                elif event["event"] == "record":
                    self.records.append(Consumed(event["partition"], event["offset"], event["value"]))
                elif event["event"] == "paused":
                    self.paused = True
                elif event["event"] == "closed":
                    self.closed = True
                self._changed.notify_all()
        with self._changed:
            self._eof = True
            self._changed.notify_all()

    def _read_stderr(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self._stderr.append(line)
            del self._stderr[:-400]

    @property
    def assignment(self) -> list[int]:
        with self._lock:
            return list(self.assignments[-1]) if self.assignments else []

    def wait_for(
        self, condition: Callable[[GroupMember], bool], *, what: str, timeout_s: float = DEFAULT_TIMEOUT_S
    ) -> None:
        deadline = time.monotonic() + timeout_s
        with self._changed:
            while not condition(self):
                remaining = deadline - time.monotonic()
                if remaining <= 0 or self._eof:  # an exited member will not report anything more
                    raise AssertionError(
                        f"{self.name} ({self.client}): timed out waiting for {what}; {self.diagnostics()}"
                    )
                self._changed.wait(min(remaining, 0.5))

    def diagnostics(self) -> str:
        return (
            f"assignments={self.assignments[-5:]}, {len(self.records)} record(s), exit={self.proc.poll()}, "
            f"stderr tail: {''.join(self._stderr[-10:])}"
        )

    def stop(self, timeout_s: float = 30.0) -> None:
        """A clean close (SIGTERM): commits are done, a dynamic member leaves the group."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout_s)
        self.wait_for(lambda m: m.closed, what="a clean close", timeout_s=5)

    def kill(self) -> None:
        """A crash: no LeaveGroup; the coordinator notices when the session times out."""
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(10)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.kill()


def wait_for_assignment(members: Sequence[GroupMember], sizes: Sequence[int], *, partitions: int) -> None:
    """Until the members' latest assignments have these sizes and cover every partition once."""

    def settled() -> bool:
        current = [m.assignment for m in members]
        covered = sorted(p for a in current for p in a)
        return sorted(len(a) for a in current) == sorted(sizes) and covered == list(range(partitions))

    try:
        wait_until(
            settled,
            what=f"assignments of sizes {sorted(sizes)} over {partitions} partitions",
            timeout_s=DEFAULT_TIMEOUT_S,
        )
    except AssertionError as exc:
        details = "; ".join(f"{m.name}: {m.diagnostics()}" for m in members)
        raise AssertionError(f"{exc}; {details}") from None


def produce_values(bootstrap: str, topic: str, values: Iterable[str], *, partitions: int) -> list[str]:
    """Produce ``values`` round-robin over the partitions (acks=all); returns them."""
    produced = list(values)
    producer = Producer({"bootstrap.servers": bootstrap, "acks": "all", "linger.ms": 5})
    errors: list[KafkaError] = []

    def on_delivery(error: KafkaError | None, _message: Message) -> None:
        if error is not None:
            errors.append(error)

    for index, value in enumerate(produced):
        producer.produce(topic, value=value.encode(), partition=index % partitions, on_delivery=on_delivery)
    assert producer.flush(30) == 0 and not errors, errors
    return produced


def consumed_values(members: Iterable[GroupMember]) -> list[str]:
    return [r.value for m in members for r in m.records]


def all_consumed_once(members: Sequence[GroupMember], expected: Sequence[str]) -> None:
    """Until the members together have consumed exactly ``expected``; none of it twice."""
    wait_until(
        lambda: sorted(consumed_values(members)) == sorted(expected),
        what=f"{len(expected)} records consumed by the group (got {len(consumed_values(members))})",
    )
    values = consumed_values(members)
    assert len(values) == len(set(values)), "no record was consumed twice"


def read_from_own_partitions(members: Sequence[GroupMember], values: Iterable[str]) -> None:
    """Each of ``values`` (produced after the last rebalance) came from its consumer's partitions."""
    wanted = set(values)
    for member in members:
        partitions = {r.partition for r in member.records if r.value in wanted}
        assert partitions <= set(member.assignment), (
            f"{member.name} read {partitions}, owns {member.assignment}"
        )


def next_offsets(records: Iterable[Consumed]) -> dict[int, int]:
    """Per partition, the offset after the last record consumed (what the member committed)."""
    last: dict[int, int] = {}
    for record in records:
        last[record.partition] = max(last.get(record.partition, -1), record.offset)
    return {partition: offset + 1 for partition, offset in last.items()}


def resumes_exactly(first: list[Consumed], second: list[Consumed], expected: Sequence[str]) -> None:
    """``second`` carried on exactly after what ``first`` committed: nothing lost, nothing twice."""
    values = [r.value for r in first + second]
    assert sorted(values) == sorted(expected), "nothing lost"
    assert len(values) == len(set(values)), "nothing read twice"
    for partition, offset in next_offsets(first).items():
        resumed = [r.offset for r in second if r.partition == partition]
        assert not resumed or min(resumed) == offset, (
            f"partition {partition} resumed at {min(resumed)}, not {offset}"
        )


def committed_offsets(bootstrap: str, group: str, topic: str, *, partitions: int) -> dict[int, int]:
    """The group's committed offsets in ``topic`` (partitions without one left out), via the admin API."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    request = ConsumerGroupTopicPartitions(group, [TopicPartition(topic, p) for p in range(partitions)])
    result = admin.list_consumer_group_offsets([request])[group].result(timeout=30)
    return {tp.partition: tp.offset for tp in result.topic_partitions if tp.offset >= 0}
