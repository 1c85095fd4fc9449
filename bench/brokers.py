"""The brokers under test: a Brook process or a reference Apache Kafka node, behind one interface.

Both come from `tests/harness` (`start_brook`, `start_kafka`); this module adds what the
benchmarks need on top: the monotonic time the process was spawned (for "start to first
acknowledged produce"), topic creation through librdkafka's admin client (the same call for
both systems), and whether the broker serves consumer groups (Kafka's ConsumerPerformance
needs them).
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Literal

from confluent_kafka import KafkaException, Producer
from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]

from bench import REPO_ROOT
from harness.brook import start_brook
from harness.kafka import start_kafka
from harness.wire import api_versions

System = Literal["brook", "kafka"]
SYSTEM_NAMES: dict[System, str] = {"brook": "Brook", "kafka": "Apache Kafka"}

#: The reference Kafka runs with the stock kafka-server-start.sh JVM flags (the harness's
#: default) and the stock 1 GiB heap, the configuration Kafka is tuned and benchmarked with.
KAFKA_HEAP = "1g"

_FIND_COORDINATOR, _JOIN_GROUP = 10, 11

#: Settings the test harness gives the reference Kafka that differ from Kafka's defaults and
#: that Brook also has; Brook gets the same, so both run with identical broker settings.
SHARED_OVERRIDES = {"group.initial.rebalance.delay.ms": "0"}


@dataclasses.dataclass(kw_only=True)
class RunningBroker:
    """A started broker; `stop()` ends it (SIGTERM, clean shutdown) and removes its data."""

    system: System
    bootstrap: str
    pid: int
    spawned_at: float  # time.monotonic() just before the process was spawned
    ready_at: float  # time.monotonic() when it answered (Brook: logged its listener)
    work_dir: Path
    _stop: Callable[[], None]

    @property
    def name(self) -> str:
        return SYSTEM_NAMES[self.system]

    def stop(self) -> None:
        try:
            self._stop()
        finally:
            shutil.rmtree(self.work_dir, ignore_errors=True)

    def serves_consumer_groups(self) -> bool:
        host, port = self.bootstrap.rsplit(":", 1)
        keys = {api.api_key for api in api_versions(host, int(port))}
        return {_FIND_COORDINATOR, _JOIN_GROUP} <= keys


_SHIM = 'raise ImportError("hidden by bench.brokers.production_environment: not in a production install")\n'


def production_environment(cache_dir: Path | None = None) -> None:
    """Make Brook processes started from here run as a production install would.

    Two things in a development checkout differ from a deployed broker, and both show in
    start-up time and memory: this machine sets PYTHONDONTWRITEBYTECODE, so every start
    compiles the broker and kio from source; and the dev dependency group includes
    hypothesis, which kio imports when it is installed (about 1.5 s of start-up cold and
    ~9 MiB of RSS). Brook processes get a bytecode cache outside the checkout
    (PYTHONPYCACHEPREFIX) and a shim that makes ``import hypothesis`` fail, as it does without
    the dev group. Nothing else changes: same interpreter, same broker code.
    """
    cache_dir = cache_dir or Path.home() / ".cache" / "brook"
    shim = cache_dir / "bench-shims"
    (shim / "hypothesis").mkdir(parents=True, exist_ok=True)
    (shim / "hypothesis" / "__init__.py").write_text(_SHIM)
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    os.environ["PYTHONPYCACHEPREFIX"] = str(cache_dir / "bench-pycache")
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(shim), os.environ.get("PYTHONPATH")]))


def use_broker_snapshot(ref: str, cache_dir: Path | None = None) -> str:
    """Run Brook processes from commit `ref` instead of the working tree; returns the full commit id.

    ``git archive`` extracts ``broker/`` of that commit into the cache (the checkout and the
    repository are only read) and it goes first on PYTHONPATH, ahead of the editable install.
    Others may be editing the working tree while a benchmark runs; a commit is reproducible.
    """
    commit = subprocess.run(
        ["git", "-C", str(REPO_ROOT), "rev-parse", "--verify", f"{ref}^{{commit}}"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    target = (cache_dir or Path.home() / ".cache" / "brook") / "bench-broker" / commit
    if not (target / "broker" / "brook_broker").is_dir():
        target.mkdir(parents=True, exist_ok=True)
        archive = subprocess.run(
            ["git", "-C", str(REPO_ROOT), "archive", commit, "broker"], capture_output=True, check=True
        ).stdout
        subprocess.run(["tar", "-x", "-C", str(target)], input=archive, check=True)
    os.environ["PYTHONPATH"] = os.pathsep.join(
        filter(None, [str(target / "broker"), os.environ.get("PYTHONPATH")])
    )
    return commit


def start_broker(system: System, work_dir: Path) -> RunningBroker:
    """Start a single-node broker of `system` with a fresh data directory under `work_dir`."""
    work_dir.mkdir(parents=True, exist_ok=True)
    if system == "brook":
        spawned = time.monotonic()
        brook = start_brook(
            work_dir / "brook", **{k.replace(".", "_"): v for k, v in SHARED_OVERRIDES.items()}
        )
        return RunningBroker(
            system=system,
            bootstrap=brook.bootstrap,
            pid=brook.pid,
            spawned_at=spawned,
            ready_at=time.monotonic(),
            work_dir=work_dir,
            _stop=lambda: _stop_brook(brook.stop),
        )
    # start_kafka formats the storage first (a separate JVM); the start-up time counts from
    # the broker JVM's spawn, which the harness records as `startup_seconds`.
    kafka = start_kafka(work_dir=work_dir / "kafka", heap=KAFKA_HEAP)
    ready = time.monotonic()
    pid = kafka.pid
    assert pid is not None
    return RunningBroker(
        system=system,
        bootstrap=kafka.bootstrap,
        pid=pid,
        spawned_at=ready - (kafka.startup_seconds or 0.0),
        ready_at=ready,
        work_dir=work_dir,
        _stop=kafka.close,
    )


def _stop_brook(stop: Callable[[], int]) -> None:
    code = stop()
    if code != 0:
        print(f"  warning: Brook exited with code {code} on SIGTERM")


def create_topic(bootstrap: str, name: str, *, partitions: int, timeout_s: float = 60.0) -> None:
    """Create a topic (replication factor 1) and wait until its leaders are known."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    for future in admin.create_topics([NewTopic(name, partitions, 1)], operation_timeout=timeout_s).values():
        future.result(timeout=timeout_s)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        topic = admin.list_topics(name, timeout=10).topics.get(name)
        if (
            topic is not None
            and topic.error is None
            and len(topic.partitions) == partitions
            and all(p.leader >= 0 for p in topic.partitions.values())
        ):
            return
        time.sleep(0.05)
    raise TimeoutError(f"topic {name} has no leaders after {timeout_s:.0f}s")


def first_acknowledged_produce(broker: RunningBroker, *, topic: str = "first-ack") -> float:
    """Create a topic, produce one record with acks=1; seconds from process spawn to the ack."""
    create_topic(broker.bootstrap, topic, partitions=1)
    producer = Producer({"bootstrap.servers": broker.bootstrap, "acks": "1", "linger.ms": 0})
    errors: list[str] = []
    producer.produce(topic, b"hello", on_delivery=lambda err, _msg: errors.append(str(err)) if err else None)
    if producer.flush(30) != 0 or errors:
        raise KafkaException(f"first produce to {broker.name} failed: {errors or 'not delivered in 30 s'}")
    return time.monotonic() - broker.spawned_at
