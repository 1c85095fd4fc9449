"""Process and machine counters from /proc: RSS, CPU time, load average, and a CPU/RSS meter.

Every benchmark wraps its load in a `Meter`, which reports wall time, the CPU seconds the broker
process spent (from /proc/PID/stat, all threads) and the CPU seconds the client side spent (this
process and any child that exited meanwhile, e.g. a Java load generator or kcat). Comparing the
two shows which side is the bottleneck. `RssSampler` keeps the peak RSS of a process while a
load runs.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from types import TracebackType
from typing import Self

_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def rss_bytes(pid: int) -> int:
    """Resident set size (VmRSS) of `pid`; 0 if the process is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except (FileNotFoundError, ProcessLookupError):
        return 0
    return 0


def cpu_times(pid: int) -> tuple[float, float]:
    """(user, system) CPU seconds of every thread of `pid` so far (fields 14 and 15 of /proc/PID/stat)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return 0.0, 0.0
    # The command name (field 2) may contain spaces and parentheses: split after the last ')'.
    fields = stat[stat.rindex(")") + 2 :].split()
    return int(fields[11]) / _CLOCK_TICKS, int(fields[12]) / _CLOCK_TICKS


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of every thread of `pid` so far."""
    user, system = cpu_times(pid)
    return user + system


def load_average() -> tuple[float, float, float]:
    return os.getloadavg()


def _own_cpu_seconds() -> float:
    """CPU of this process (all threads, e.g. librdkafka's) plus children reaped so far."""
    times = os.times()
    return times.user + times.system + times.children_user + times.children_system


class Meter:
    """Wall time, broker CPU and client CPU over a `with` block."""

    def __init__(self, broker_pid: int) -> None:
        self.broker_pid = broker_pid
        self.wall_s = 0.0
        self.broker_cpu_s = 0.0
        self.client_cpu_s = 0.0
        self._start = (0.0, 0.0, 0.0)

    def __enter__(self) -> Self:
        self._start = (time.perf_counter(), cpu_seconds(self.broker_pid), _own_cpu_seconds())
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        wall, broker, client = self._start
        self.wall_s = time.perf_counter() - wall
        self.broker_cpu_s = cpu_seconds(self.broker_pid) - broker
        self.client_cpu_s = _own_cpu_seconds() - client


class RssSampler:
    """Samples the RSS of `pid` every `interval_s` in a thread while active; keeps the peak."""

    def __init__(self, pid: int, *, interval_s: float = 0.2) -> None:
        self.pid = pid
        self.interval_s = interval_s
        self.peak_bytes = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak_bytes = max(self.peak_bytes, rss_bytes(self.pid))
            self._stop.wait(self.interval_s)

    def __enter__(self) -> Self:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name=f"rss-{self.pid}", daemon=True)
        self._thread.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self.peak_bytes = max(self.peak_bytes, rss_bytes(self.pid))


def wait_for_quiet(*, max_load: float, timeout_s: float, poll_s: float = 5.0, log: bool = True) -> float:
    """Wait (up to `timeout_s`) until the 1-minute load average is at most `max_load`; return it.

    The machine is shared: other engineers' test runs come and go, so a benchmark started
    during one waits a little for it to finish instead of measuring it.
    """
    deadline = time.monotonic() + timeout_s
    while True:
        one_minute = load_average()[0]
        if one_minute <= max_load or time.monotonic() >= deadline:
            return one_minute
        if log:
            print(f"  load average {one_minute:.2f} > {max_load:.2f}: waiting for the machine to calm down")
        time.sleep(poll_s)


def _machine_jiffies() -> tuple[int, int, int, int]:
    """(busy without nice, nice, steal, total) jiffies of all CPUs from the first line of /proc/stat."""
    fields = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:9]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields
    return user + system + irq + softirq, nice, steal, sum(fields)


class MachineMeter:
    """CPU the rest of the machine used during a `with` block, net of a broker and this process.

    The benchmark machine is shared; this says how much of it other processes took while a
    round ran (split into normal and niced processes, which yield to ours), which is a better
    noise figure than the load average.
    """

    def __init__(self, broker_pid: int) -> None:
        self.broker_pid = broker_pid
        self.others_pct = 0.0  # % of the whole machine (all cores) used by other, non-niced processes
        self.niced_pct = 0.0  # % of the machine used by niced processes (ours are not niced)
        self.steal_pct = 0.0
        self._start: tuple[tuple[int, int, int, int], float, float] = ((0, 0, 0, 0), 0.0, 0.0)

    def __enter__(self) -> Self:
        self._start = (_machine_jiffies(), cpu_seconds(self.broker_pid), _own_cpu_seconds())
        return self

    def stop(self) -> None:
        """Take the reading (call while the broker still runs)."""
        (busy0, nice0, steal0, total0), broker0, own0 = self._start
        busy1, nice1, steal1, total1 = _machine_jiffies()
        total = max(1, total1 - total0)
        ours = (cpu_seconds(self.broker_pid) - broker0 + _own_cpu_seconds() - own0) * _CLOCK_TICKS
        self.others_pct = max(0.0, 100 * (busy1 - busy0 - ours) / total)
        self.niced_pct = 100 * (nice1 - nice0) / total
        self.steal_pct = 100 * (steal1 - steal0) / total

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        return None
