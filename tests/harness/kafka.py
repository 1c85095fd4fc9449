"""Reference Apache Kafka 4.x brokers on loopback, for differential tests and side-by-side benchmarks.

`start_kafka()` runs one combined broker+controller node (KRaft), `start_kafka_cluster()` runs three
(or N) of them in one controller quorum. Each node gets random free ports on 127.0.0.1, its own work
directory (server.properties, logs/server.log, data/), storage formatted with Kafka's StorageTool,
and a `java -cp libs/* kafka.Kafka` process. Start-up returns once the broker answers Metadata and
lists itself (and, for a cluster, every node), which in KRaft means it is registered and unfenced.

Every JVM dies with the test process: nodes stop on `stop()`/`close()`/context exit, an atexit hook
SIGKILLs whatever is left, and the parent-death signal (see `processes.with_parent_death_signal`) covers
a test process that is itself SIGKILLed. The pytest fixtures live in `harness.fixtures`.

Environment: BROOK_KAFKA_REF_KEEP=1 keeps work directories after close() for post-mortems.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import TracebackType
from typing import Literal, Self

from harness.dist import KafkaDist, ensure_kafka_dist
from harness.jvm import KAFKA_STOCK_JVM_OPTS
from harness.node import (
    START_TIMEOUT_S,
    STOP_TIMEOUT_S,
    KafkaNode,
    KafkaStartError,
    PortInUseError,
    random_kafka_uuid,
    server_properties,
)
from harness.processes import HOST, free_ports
from harness.wire import WireError, describe_quorum

__all__ = [
    "KafkaCluster",
    "KafkaNode",
    "KafkaServer",
    "KafkaStartError",
    "start_kafka",
    "start_kafka_cluster",
]

Quorum = Literal["dynamic", "static"]
DEFAULT_HEAP = "512m"
# A port picked as free can be taken by someone else before the JVM binds it; start afresh then.
_PORT_ATTEMPTS = 3


class _Owned:
    """Shared close()/context-manager logic: stop the JVMs, then remove a work dir we created."""

    work_dir: Path
    _owns_work_dir: bool

    def stop(self, *, timeout: float = STOP_TIMEOUT_S) -> None:
        raise NotImplementedError

    def close(self) -> None:
        try:
            self.stop()
        finally:
            if self._owns_work_dir and os.environ.get("BROOK_KAFKA_REF_KEEP") != "1":
                shutil.rmtree(self.work_dir, ignore_errors=True)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class KafkaServer(_Owned):
    """A single-node reference Kafka (one combined broker+controller). Returned by start_kafka()."""

    def __init__(self, node: KafkaNode, *, cluster_id: str, work_dir: Path, owns_work_dir: bool) -> None:
        self.node = node
        self.cluster_id = cluster_id
        self.work_dir = work_dir
        self._owns_work_dir = owns_work_dir

    def __repr__(self) -> str:
        return f"KafkaServer(bootstrap={self.bootstrap!r}, pid={self.pid}, version={self.version!r})"

    @property
    def version(self) -> str:
        return self.node.dist.version

    @property
    def bootstrap(self) -> str:
        return self.node.bootstrap

    @property
    def port(self) -> int:
        return self.node.port

    @property
    def pid(self) -> int | None:
        return self.node.pid

    @property
    def log_dir(self) -> Path:
        return self.node.log_dir

    @property
    def server_log(self) -> Path:
        return self.node.server_log

    @property
    def startup_seconds(self) -> float | None:
        return self.node.startup_seconds

    def stop(self, *, timeout: float = STOP_TIMEOUT_S) -> None:
        self.node.stop(timeout=timeout)

    def kill(self) -> None:
        self.node.kill()

    def start(self, *, timeout: float = START_TIMEOUT_S) -> None:
        self.node.start(timeout=timeout)

    def restart(self, *, timeout: float = START_TIMEOUT_S) -> None:
        self.node.restart(timeout=timeout)

    def rss_bytes(self) -> int | None:
        return self.node.rss_bytes()


class KafkaCluster(_Owned):
    """N combined broker+controller nodes forming one KRaft quorum. Returned by start_kafka_cluster()."""

    def __init__(
        self, nodes: Sequence[KafkaNode], *, cluster_id: str, work_dir: Path, owns_work_dir: bool
    ) -> None:
        self.nodes = list(nodes)
        self.cluster_id = cluster_id
        self.work_dir = work_dir
        self._owns_work_dir = owns_work_dir

    def __repr__(self) -> str:
        return f"KafkaCluster(bootstrap={self.bootstrap!r}, nodes={self.nodes!r})"

    def __iter__(self) -> Iterator[KafkaNode]:
        return iter(self.nodes)

    def __len__(self) -> int:
        return len(self.nodes)

    @property
    def version(self) -> str:
        return self.nodes[0].dist.version

    @property
    def bootstrap(self) -> str:
        """All nodes' PLAINTEXT endpoints, comma-separated (clients skip the dead ones)."""
        return ",".join(node.bootstrap for node in self.nodes)

    def running_bootstrap(self) -> str:
        """Only the running nodes' endpoints, for tools that give up on the first dead one."""
        return ",".join(node.bootstrap for node in self.nodes if node.is_running())

    def node(self, node_id: int) -> KafkaNode:
        for node in self.nodes:
            if node.node_id == node_id:
                return node
        raise KeyError(node_id)

    def controller_id(self) -> int | None:
        """The active controller (KRaft quorum leader) as a running node reports it; None meanwhile."""
        for node in self.nodes:
            if not node.is_running():
                continue
            try:
                leader = describe_quorum(HOST, node.port, timeout=2.0).leader_id
            except (OSError, WireError):
                continue
            if leader >= 0:
                return leader
        return None

    def wait_ready(self, *, timeout: float = START_TIMEOUT_S) -> None:
        """Block until every running node lists every running node as a live broker."""
        deadline = time.monotonic() + timeout
        running = [node for node in self.nodes if node.is_running()]
        for node in running:
            node.wait_ready(expected_brokers=len(running), timeout=max(1.0, deadline - time.monotonic()))

    def stop(self, *, timeout: float = STOP_TIMEOUT_S) -> None:
        """SIGTERM every node at once (sequential stops would each wait on a shrinking quorum).

        Takes about 6 s for 3 nodes: the last controller's Raft client waits up to 5 s for its
        EndQuorumEpoch to be acknowledged by voters that are already gone.
        """
        for node in self.nodes:
            node.request_stop()
        for node in self.nodes:
            node.stop(timeout=timeout)

    def kill(self, node_id: int | None = None) -> None:
        """SIGKILL one node (by id) or, without an id, all of them."""
        for node in self.nodes if node_id is None else [self.node(node_id)]:
            node.kill()


def _make_work_dir(work_dir: Path | None, prefix: str) -> tuple[Path, bool]:
    if work_dir is not None:
        work_dir.mkdir(parents=True, exist_ok=True)
        return work_dir, False
    return Path(tempfile.mkdtemp(prefix=prefix)), True


def _quorum_config(
    quorum: Quorum, voters: Sequence[tuple[int, int, str]]
) -> tuple[dict[str, str], list[str]]:
    """(quorum properties, StorageTool format arguments) for voters given as (node id, port, dir id)."""
    if quorum == "static":
        # Kafka 3.x style: a fixed voter set in every node's config; format takes no quorum flag.
        spec = ",".join(f"{node_id}@{HOST}:{port}" for node_id, port, _ in voters)
        return {"controller.quorum.voters": spec}, []
    # KIP-853 dynamic quorum, Kafka 4.x's default: nodes find the quorum through bootstrap servers
    # and the initial voter set (with directory ids) is written into each node's bootstrap checkpoint.
    props = {"controller.quorum.bootstrap.servers": ",".join(f"{HOST}:{port}" for _, port, _ in voters)}
    if len(voters) == 1:
        return props, ["--standalone"]
    initial = ",".join(f"{node_id}@{HOST}:{port}:{dir_id}" for node_id, port, dir_id in voters)
    return props, ["--initial-controllers", initial]


def _build_nodes(
    *,
    dist: KafkaDist,
    work_dir: Path,
    count: int,
    quorum: Quorum,
    overrides: Mapping[str, str] | None,
    heap: str,
    jvm_opts: Sequence[str],
) -> tuple[list[KafkaNode], str]:
    """Create, configure and format `count` nodes (formats run in parallel: each is a JVM start)."""
    ports = free_ports(2 * count)
    nodes = [
        KafkaNode(
            dist=dist,
            node_id=index + 1,
            work_dir=work_dir / f"node-{index + 1}",
            port=ports[2 * index],
            controller_port=ports[2 * index + 1],
            heap=heap,
            jvm_opts=jvm_opts,
        )
        for index in range(count)
    ]
    for node in nodes:
        shutil.rmtree(node.work_dir, ignore_errors=True)
    voters = [(node.node_id, node.controller_port, random_kafka_uuid()) for node in nodes]
    quorum_props, format_args = _quorum_config(quorum, voters)
    cluster_id = random_kafka_uuid()
    for node in nodes:
        node.write_config(
            server_properties(
                node_id=node.node_id,
                port=node.port,
                controller_port=node.controller_port,
                log_dir=node.log_dir,
                quorum=quorum_props,
                cluster_size=count,
                overrides=overrides,
            )
        )
    with ThreadPoolExecutor(max_workers=count) as pool:
        futures = [
            pool.submit(node.format_storage, cluster_id=cluster_id, quorum_args=format_args) for node in nodes
        ]
        for future in futures:
            future.result()
    return nodes, cluster_id


def _start_nodes(
    *,
    count: int,
    work_dir: Path,
    quorum: Quorum,
    overrides: Mapping[str, str] | None,
    heap: str,
    jvm_opts: Sequence[str] | None,
    timeout: float,
) -> tuple[list[KafkaNode], str]:
    dist = ensure_kafka_dist()
    for attempt in range(1, _PORT_ATTEMPTS + 1):
        nodes, cluster_id = _build_nodes(
            dist=dist,
            work_dir=work_dir,
            count=count,
            quorum=quorum,
            overrides=overrides,
            heap=heap,
            jvm_opts=KAFKA_STOCK_JVM_OPTS if jvm_opts is None else jvm_opts,
        )
        try:
            # Spawned from this thread, one after another: see with_parent_death_signal().
            for node in nodes:
                node.spawn()
            deadline = time.monotonic() + timeout
            for node in nodes:
                node.wait_ready(expected_brokers=count, timeout=max(1.0, deadline - time.monotonic()))
        except PortInUseError:
            for node in nodes:
                node.kill()
            if attempt == _PORT_ATTEMPTS:
                raise
            continue
        except BaseException:
            for node in nodes:
                node.kill()
            raise
        return nodes, cluster_id
    raise AssertionError("unreachable")


def start_kafka(
    *,
    work_dir: Path | None = None,
    overrides: Mapping[str, str] | None = None,
    heap: str = DEFAULT_HEAP,
    jvm_opts: Sequence[str] | None = None,
    quorum: Quorum = "dynamic",
    timeout: float = START_TIMEOUT_S,
) -> KafkaServer:
    """Start a single-node reference Kafka on 127.0.0.1 and wait until it serves requests.

    `overrides` are extra/replacement server.properties entries. `jvm_opts` replaces Kafka's stock
    G1 flags (the heap is `heap` either way). Use as a context manager, or call close().
    """
    root, owned = _make_work_dir(work_dir, "kafka-ref-")
    try:
        nodes, cluster_id = _start_nodes(
            count=1,
            work_dir=root,
            quorum=quorum,
            overrides=overrides,
            heap=heap,
            jvm_opts=jvm_opts,
            timeout=timeout,
        )
    except BaseException:
        if owned:
            shutil.rmtree(root, ignore_errors=True)
        raise
    return KafkaServer(nodes[0], cluster_id=cluster_id, work_dir=root, owns_work_dir=owned)


def start_kafka_cluster(
    *,
    nodes: int = 3,
    work_dir: Path | None = None,
    overrides: Mapping[str, str] | None = None,
    heap: str = DEFAULT_HEAP,
    jvm_opts: Sequence[str] | None = None,
    quorum: Quorum = "dynamic",
    timeout: float = START_TIMEOUT_S,
) -> KafkaCluster:
    """Start `nodes` combined broker+controller nodes as one KRaft cluster on 127.0.0.1.

    Returns once every node lists every node as a live broker. Node ids are 1..nodes and every
    node is a voter of the controller quorum.
    """
    root, owned = _make_work_dir(work_dir, "kafka-ref-cluster-")
    try:
        members, cluster_id = _start_nodes(
            count=nodes,
            work_dir=root,
            quorum=quorum,
            overrides=overrides,
            heap=heap,
            jvm_opts=jvm_opts,
            timeout=timeout,
        )
    except BaseException:
        if owned:
            shutil.rmtree(root, ignore_errors=True)
        raise
    return KafkaCluster(members, cluster_id=cluster_id, work_dir=root, owns_work_dir=owned)
