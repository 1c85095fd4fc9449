"""One reference Kafka node: its server.properties, storage format, JVM process and readiness probe.

`harness.kafka` composes nodes into a single server or a cluster; use that module's `start_kafka()`
and `start_kafka_cluster()` rather than this one. Also here: the registry that SIGKILLs leftover
JVMs at interpreter exit, and free-port / Kafka-Uuid helpers.
"""

from __future__ import annotations

import atexit
import base64
import contextlib
import signal
import subprocess
import threading
import time
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path

from harness.dist import KafkaDist
from harness.jvm import QUICK_START_JVM_OPTS, java_command, log4j2_config
from harness.processes import HOST, with_parent_death_signal
from harness.wire import ClusterInfo, WireError, cluster_info

START_TIMEOUT_S = 120.0
STOP_TIMEOUT_S = 30.0
FORMAT_TIMEOUT_S = 60.0


class KafkaStartError(RuntimeError):
    """A reference Kafka node did not come up; the message ends with the tail of its logs."""


class PortInUseError(KafkaStartError):
    """Another process took a port between our pick and the JVM's bind; the caller retries."""


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
    # java.util.Properties reads a backslash as an escape character, so a literal one is doubled.
    return "".join(f"{key}={value}".replace("\\", "\\\\") + "\n" for key, value in props.items())


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
        self._stop_requested = False
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
        self._stop_requested = False
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
                error = PortInUseError if "Address already in use" in logs else KafkaStartError
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

    def request_stop(self) -> None:
        """Send SIGTERM once without waiting (a second SIGTERM only adds a log line to Kafka's)."""
        process = self._process
        if process is not None and process.poll() is None and not self._stop_requested:
            process.send_signal(signal.SIGCONT)  # a SIGSTOPped JVM cannot handle SIGTERM
            process.terminate()
            self._stop_requested = True

    def stop(self, *, timeout: float = STOP_TIMEOUT_S) -> int | None:
        """SIGTERM (Kafka's clean shutdown), SIGKILL if it has not exited after `timeout` seconds.

        Returns the exit code, or None if the node was not running. Data stays for restart().
        """
        process = self._process
        if process is None:
            return None
        if process.poll() is None:
            self.request_stop()
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
