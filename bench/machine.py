"""The machine a benchmark ran on: hardware, software versions, and its raw disk and loopback limits.

`describe()` collects what docs/benchmarks.md lists (cores, memory, the data disk, kernel,
Python, Java and client versions, the git commit). `disk_write_mb_s()` and `loopback_tcp_mb_s()`
measure the two ceilings a broker cannot beat: sequential writes made durable with fdatasync,
and one TCP stream over loopback (Python threads; `iperf3` too when it is installed).
"""

from __future__ import annotations

import json
import os
import platform
import re
import shutil
import socket
import subprocess
import threading
import time
from importlib import metadata
from pathlib import Path

from bench import REPO_ROOT

MB = 1_000_000
_CHUNK = 1 << 20


def _run(command: list[str]) -> str:
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return (result.stdout + result.stderr).strip()


def _cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def _memory_gib() -> float:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) / 2**20
    return 0.0


def _disk(path: Path) -> str:
    """Device, filesystem and whether it is rotational, for the filesystem holding `path`."""
    best = ("", "", "")
    for line in Path("/proc/mounts").read_text().splitlines():
        device, mount, fstype = line.split()[:3]
        if str(path.resolve()).startswith(mount) and len(mount) >= len(best[1]):
            best = (device, mount, fstype)
    device, mount, fstype = best
    name = Path(device).name
    kind = ""
    rotational = Path(f"/sys/class/block/{name}/queue/rotational")
    if rotational.exists():
        kind = f"queue/rotational={rotational.read_text().strip()}"
    size = shutil.disk_usage(mount).total / 1e9 if mount else 0.0
    return f"{device} ({fstype} on {mount}, {size:.0f} GB, {kind or 'type unknown'})"


def _java_version() -> str:
    text = _run(["java", "-version"])
    match = re.search(r'version "([^"]+)"', text)
    runtime = re.search(r"^(OpenJDK|Java).*Runtime Environment.*$", text, re.MULTILINE)
    return f"{match[1] if match else '?'} ({runtime[0].strip() if runtime else 'unknown runtime'})"


def _package(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


def _git_commit() -> str:
    commit = _run(["git", "-C", str(REPO_ROOT), "rev-parse", "--short=12", "HEAD"])
    dirty = _run(["git", "-C", str(REPO_ROOT), "status", "--porcelain", "--", "broker"])
    return f"{commit}{' + uncommitted broker changes' if dirty else ''}"


def describe(data_dir: Path, *, brook_commit: str | None = None) -> dict[str, str]:
    """What the results depend on, as label -> value (ordered for the report)."""
    import confluent_kafka

    from harness.dist import kafka_version

    kcat = [line for line in _run(["kcat", "-V"]).splitlines() if line.startswith("Version")]
    iperf = shutil.which("iperf3")
    return {
        "CPU": f"{os.cpu_count()} cores, {_cpu_model()}",
        "memory": f"{_memory_gib():.1f} GiB",
        "data disk": _disk(data_dir),
        "kernel": f"{platform.system()} {platform.release()}",
        "OS": _run(["sh", "-c", ". /etc/os-release && echo $PRETTY_NAME"]) or "unknown",
        "Python": f"{platform.python_implementation()} {platform.python_version()}",
        "uvloop": _package("uvloop"),
        "Java": _java_version(),
        "Apache Kafka": kafka_version(),
        "Brook": f"{_package('brook')} at git "
        + (
            f"{brook_commit[:12]} (snapshot of the commit)"
            if brook_commit
            else f"{_git_commit()} (working tree)"
        ),
        "librdkafka / confluent-kafka": f"{confluent_kafka.libversion()[0]} / {_package('confluent-kafka')}",
        "kcat": kcat[0].split(" (")[0].removeprefix("Version ") if kcat else "not installed",
        "iperf3": _run(["iperf3", "--version"]).splitlines()[0] if iperf else "not installed",
    }


def disk_write_mb_s(directory: Path, *, size_mib: int = 1024) -> tuple[float, float]:
    """Sequential 1 MiB writes of `size_mib` MiB to a new file, then one fdatasync.

    Returns (MB/s of the writes alone, into the page cache; MB/s including the fdatasync).
    The first is what a broker's append path sees, the second the durable rate.
    """
    path = directory / f"disk-write-{os.getpid()}.bin"
    block = os.urandom(_CHUNK)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        start = time.perf_counter()
        for _ in range(size_mib):
            os.write(fd, block)
        written = time.perf_counter() - start
        os.fdatasync(fd)
        synced = time.perf_counter() - start
    finally:
        os.close(fd)
        path.unlink(missing_ok=True)
    size = size_mib * _CHUNK / MB
    return size / written, size / synced


def loopback_tcp_mb_s(*, seconds: float = 2.0) -> float:
    """One TCP stream over 127.0.0.1: `sendall` of 1 MiB buffers, `recv_into` on a second thread."""
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]
    received = [0]

    def receive() -> None:
        conn, _ = server.accept()
        buffer = bytearray(_CHUNK)
        with conn:
            while n := conn.recv_into(buffer):
                received[0] += n

    thread = threading.Thread(target=receive, daemon=True)
    thread.start()
    block = memoryview(os.urandom(_CHUNK))
    with socket.create_connection(("127.0.0.1", port)) as sender:
        start = time.perf_counter()
        while time.perf_counter() - start < seconds:
            sender.sendall(block)
    thread.join()
    elapsed = time.perf_counter() - start
    server.close()
    return received[0] / elapsed / MB


def iperf3_mb_s(*, seconds: int = 3) -> float | None:
    """One iperf3 TCP stream over loopback (MB/s), or None when iperf3 is not installed."""
    iperf = shutil.which("iperf3")
    if iperf is None:
        return None
    port = _free_port()
    server = subprocess.Popen(
        [iperf, "-s", "-1", "-p", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        for _ in range(50):
            output = _run([iperf, "-c", "127.0.0.1", "-p", str(port), "-t", str(seconds), "-J"])
            if output.startswith("{"):
                result = json.loads(output)
                if "end" in result and "sum_received" in result["end"]:
                    return float(result["end"]["sum_received"]["bits_per_second"]) / 8 / MB
            time.sleep(0.1)
        return None
    finally:
        server.kill()
        server.wait()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port
