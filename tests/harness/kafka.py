"""Reference Apache Kafka 4.x brokers on loopback, for differential tests and side-by-side benchmarks.

`start_kafka()` runs one combined broker+controller node (KRaft), `start_kafka_cluster()` runs three
(or N) of them in one controller quorum. Each node gets random free ports on 127.0.0.1, its own work
directory (server.properties, logs/server.log, data/), storage formatted with Kafka's StorageTool,
and a `java -cp libs/* kafka.Kafka` process. Start-up returns once the broker answers Metadata and
lists itself (and, for a cluster, every node), which in KRaft means it is registered and unfenced.

Every JVM dies with the test process: nodes stop on `stop()`/`close()`/context exit, an atexit hook
SIGKILLs whatever is left, and the parent-death signal (see `jvm.with_parent_death_signal`) covers
a test process that is itself SIGKILLed. The pytest fixtures live in `harness.fixtures`.

Environment: BROOK_KAFKA_REF_KEEP=1 keeps work directories after close() for post-mortems.
"""

from __future__ import annotations

import atexit
import base64
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import TracebackType
from typing import Literal, Self

from harness.dist import KafkaDist, ensure_kafka_dist
from harness.jvm import (
    KAFKA_STOCK_JVM_OPTS,
    QUICK_START_JVM_OPTS,
    java_command,
    log4j2_config,
    with_parent_death_signal,
)
from harness.wire import ClusterInfo, WireError, cluster_info

HOST = "127.0.0.1"
Quorum = Literal["dynamic", "static"]

DEFAULT_HEAP = "512m"
START_TIMEOUT_S = 120.0
STOP_TIMEOUT_S = 30.0
FORMAT_TIMEOUT_S = 60.0
# A port picked as free can be taken by someone else before the JVM binds it; start afresh then.
_PORT_ATTEMPTS = 3


class KafkaStartError(RuntimeError):
    """A reference Kafka node did not come up; the message ends with the tail of its logs."""


class _PortInUseError(KafkaStartError):
    pass


def free_ports(count: int) -> list[int]:
    """`count` distinct ports that were free on 127.0.0.1 a moment ago (all held open while picking)."""
    with contextlib.ExitStack() as stack:
        sockets = [
            stack.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) for _ in range(count)
        ]
        for sock in sockets:
            sock.bind((HOST, 0))
        return [sock.getsockname()[1] for sock in sockets]


def random_kafka_uuid() -> str:
    """A random Kafka Uuid in its base64url text form (cluster ids, directory ids)."""
    while True:
        text = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        # Kafka's Uuid.randomUuid() rejects ids starting with '-' (CLI parsers take them for flags).
        if not text.startswith("-"):
            return text


def server_properties(
    *,
    node_id: int,
    port: int,
    controller_port: int,
    log_dir: Path,
    quorum: Mapping[str, str],
    cluster_size: int,
    overrides: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """server.properties of one combined broker+controller node; `overrides` win over everything."""
    replicas = str(min(3, cluster_size))
    min_isr = str(min(2, cluster_size))
    props = {
        "process.roles": "broker,controller",
        "node.id": str(node_id),
        "listeners": f"PLAINTEXT://{HOST}:{port},CONTROLLER://{HOST}:{controller_port}",
        "advertised.listeners": f"PLAINTEXT://{HOST}:{port},CONTROLLER://{HOST}:{controller_port}",
        "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
        "controller.listener.names": "CONTROLLER",
        "inter.broker.listener.name": "PLAINTEXT",
        **quorum,
        "log.dirs": str(log_dir),
        "num.partitions": "1",
        # Internal topics must fit the cluster: Kafka's defaults (RF 3, min ISR 2) fail on 1 node.
        "offsets.topic.replication.factor": replicas,
        "transaction.state.log.replication.factor": replicas,
        "transaction.state.log.min.isr": min_isr,
        "share.coordinator.state.topic.replication.factor": replicas,
        "share.coordinator.state.topic.min.isr": min_isr,
        # Tests join groups constantly; Kafka's 3 s default delay would dominate their run time.
        "group.initial.rebalance.delay.ms": "0",
    }
    props.update(overrides or {})
    return props


def render_properties(props: Mapping[str, str]) -> str:
    return "".join(f"{key}={value}\n" for key, value in props.items())


class _ProcessRegistry:
    """JVMs started by this process, SIGKILLed at interpreter exit if nobody stopped them."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._processes: dict[int, subprocess.Popen[bytes]] = {}
        atexit.register(self.kill_all)

    def add(self, process: subprocess.Popen[bytes]) -> None:
        with self._lock:
            self._processes[process.pid] = process

    def discard(self, process: subprocess.Popen[bytes]) -> None:
        with self._lock:
            self._processes.pop(process.pid, None)

    def kill_all(self) -> None:
        with self._lock:
            processes = list(self._processes.values())
            self._processes.clear()
        for process in processes:
            if process.poll() is None:
                process.kill()
                with contextlib.suppress(subprocess.TimeoutExpired):
                    process.wait(timeout=10)


_REGISTRY = _ProcessRegistry()


def _tail(path: Path, lines: int = 40) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return f"({path} does not exist)\n"
    return f"--- {path} (last {lines} lines) ---\n" + "\n".join(text.splitlines()[-lines:]) + "\n"


class KafkaNode:
    """One combined broker+controller JVM. Create through start_kafka() / start_kafka_cluster()."""

    def __init__(
        self,
        *,
        dist: KafkaDist,
        node_id: int,
        work_dir: Path,
        port: int,
        controller_port: int,
        heap: str,
        jvm_opts: Sequence[str],
    ) -> None:
        self.dist = dist
        self.node_id = node_id
        self.work_dir = work_dir
        self.port = port
        self.controller_port = controller_port
        self.heap = heap
        self.jvm_opts = tuple(jvm_opts)
        self.properties: dict[str, str] = {}
        self.startup_seconds: float | None = None
        """Seconds from spawning `java` to the first Metadata answer that lists this node."""
        self._process: subprocess.Popen[bytes] | None = None
        self._started_at = 0.0
        self._output: Path = work_dir / "logs" / "stdout.log"

    def __repr__(self) -> str:
        return f"KafkaNode(node_id={self.node_id}, bootstrap={self.bootstrap!r}, pid={self.pid})"

    @property
    def host(self) -> str:
        return HOST

    @property
    def bootstrap(self) -> str:
        return f"{HOST}:{self.port}"

    @property
    def controller_endpoint(self) -> str:
        return f"{HOST}:{self.controller_port}"

    @property
    def log_dir(self) -> Path:
        """Kafka's `log.dirs`: the partition data (and, combined mode, the metadata log)."""
        return self.work_dir / "data"

    @property
    def logs_dir(self) -> Path:
        """Where the JVM writes server.log (Log4j2) and stdout.log (stdout/stderr)."""
        return self.work_dir / "logs"

    @property
    def server_log(self) -> Path:
        return self.logs_dir / "server.log"

    @property
    def config_file(self) -> Path:
        return self.work_dir / "server.properties"

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None and self._process.poll() is None else None

    def is_running(self) -> bool:
        return self.pid is not None

    def write_config(self, props: Mapping[str, str]) -> None:
        self.properties = dict(props)
        self.logs_dir.mkdir(parents=True, exist_ok=True)
        self.config_file.write_text(render_properties(self.properties), encoding="utf-8")

    def format_storage(self, *, cluster_id: str, quorum_args: Sequence[str]) -> None:
        """`kafka-storage format`: writes meta.properties and the bootstrap metadata into log.dirs."""
        command = java_command(
            self.dist,
            "kafka.tools.StorageTool",
            ["format", "-t", cluster_id, "-c", str(self.config_file), *quorum_args],
            heap="256m",
            jvm_opts=QUICK_START_JVM_OPTS,
            log4j2=log4j2_config(self.dist, broker=False),
        )
        result = subprocess.run(
            command,
            capture_output=True,
            text=True,
            timeout=FORMAT_TIMEOUT_S,
            check=False,
            stdin=subprocess.DEVNULL,
        )
        if result.returncode != 0:
            raise KafkaStartError(
                f"StorageTool format failed for node {self.node_id} (exit {result.returncode}):\n"
                f"{result.stdout}{result.stderr}"
            )

    def spawn(self) -> None:
        """Start the JVM without waiting for it; `wait_ready()` waits."""
        if self.is_running():
            raise RuntimeError(f"{self!r} is already running")
        command = java_command(
            self.dist,
            "kafka.Kafka",
            [str(self.config_file)],
            heap=self.heap,
            jvm_opts=self.jvm_opts,
            log4j2=log4j2_config(self.dist, broker=True),
            system_properties={"kafka.logs.dir": str(self.logs_dir)},
        )
        self.logs_dir.mkdir(parents=True, exist_ok=True)
        with self._output.open("ab") as output:
            # A new session, so a Ctrl-C aimed at pytest does not also hit the JVM mid-shutdown.
            self._process = subprocess.Popen(
                with_parent_death_signal(command),
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                cwd=self.work_dir,
            )
        self._started_at = time.monotonic()
        self.startup_seconds = None
        _REGISTRY.add(self._process)

    def probe(self, *, timeout: float = 2.0) -> ClusterInfo | None:
        """Metadata from this node, or None when it does not answer (yet)."""
        try:
            return cluster_info(HOST, self.port, timeout=timeout)
        except (OSError, WireError):
            return None

    def wait_ready(self, *, expected_brokers: int = 1, timeout: float = START_TIMEOUT_S) -> None:
        """Block until this node answers Metadata listing itself and `expected_brokers` brokers."""
        deadline = time.monotonic() + timeout
        while True:
            process = self._process
            if process is None:
                raise RuntimeError(f"{self!r} was never started")
            exit_code = process.poll()
            if exit_code is not None:
                _REGISTRY.discard(process)
                logs = _tail(self.server_log) + _tail(self._output)
                error = _PortInUseError if "Address already in use" in logs else KafkaStartError
                raise error(f"Kafka node {self.node_id} exited with {exit_code} during start-up\n{logs}")
            info = self.probe()
            if info is not None:
                ids = {broker.node_id for broker in info.brokers}
                if self.startup_seconds is None and self.node_id in ids:
                    self.startup_seconds = time.monotonic() - self._started_at
                if self.node_id in ids and len(ids) >= expected_brokers:
                    return
            if time.monotonic() > deadline:
                raise KafkaStartError(
                    f"Kafka node {self.node_id} was not ready within {timeout:.0f}s "
                    f"(last metadata: {info})\n{_tail(self.server_log)}"
                )
            time.sleep(0.1)

    def send_signal(self, sig: signal.Signals) -> None:
        """Deliver `sig` to the JVM (e.g. SIGSTOP/SIGCONT for pause tests)."""
        if self._process is not None and self._process.poll() is None:
            self._process.send_signal(sig)

    def stop(self, *, timeout: float = STOP_TIMEOUT_S) -> int | None:
        """SIGTERM (Kafka's clean shutdown), SIGKILL if it has not exited after `timeout` seconds.

        Returns the exit code, or None if the node was not running. Data stays for restart().
        """
        process = self._process
        if process is None:
            return None
        if process.poll() is None:
            process.send_signal(signal.SIGCONT)  # a SIGSTOPped JVM cannot handle SIGTERM
            process.terminate()
            try:
                process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=30)
        _REGISTRY.discard(process)
        return process.returncode

    def kill(self) -> int | None:
        """SIGKILL, like a crash or `kill -9`: no controlled shutdown, no final flush."""
        process = self._process
        if process is None:
            return None
        if process.poll() is None:
            process.kill()
            process.wait(timeout=30)
        _REGISTRY.discard(process)
        return process.returncode

    def start(self, *, expected_brokers: int = 1, timeout: float = START_TIMEOUT_S) -> None:
        """Start a stopped/killed node on its existing data (no re-format) and wait until it answers."""
        self.spawn()
        try:
            self.wait_ready(expected_brokers=expected_brokers, timeout=timeout)
        except BaseException:
            self.kill()
            raise

    def restart(self, *, expected_brokers: int = 1, timeout: float = START_TIMEOUT_S) -> None:
        """stop() then start() on the same ports and data."""
        self.stop()
        self.start(expected_brokers=expected_brokers, timeout=timeout)

    def rss_bytes(self) -> int | None:
        """Resident set size of the JVM (from /proc), or None when it is not running."""
        pid = self.pid
        if pid is None:
            return None
        with contextlib.suppress(FileNotFoundError):
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
        return None


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
        """The active controller as a running node reports it (-1/None while an election runs)."""
        for node in self.nodes:
            if node.is_running() and (info := node.probe()) is not None and info.controller_id >= 0:
                return info.controller_id
        return None

    def wait_ready(self, *, timeout: float = START_TIMEOUT_S) -> None:
        """Block until every running node lists every running node as a live broker."""
        deadline = time.monotonic() + timeout
        running = [node for node in self.nodes if node.is_running()]
        for node in running:
            node.wait_ready(expected_brokers=len(running), timeout=max(1.0, deadline - time.monotonic()))

    def stop(self, *, timeout: float = STOP_TIMEOUT_S) -> None:
        """SIGTERM every node at once (sequential stops would each wait on a shrinking quorum)."""
        for node in self.nodes:
            node.send_signal(signal.SIGCONT)
            node.send_signal(signal.SIGTERM)
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
        except _PortInUseError:
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
