"""Brook brokers as real processes on loopback, for integration tests and benchmarks.

`start_brook()` runs ``python -m brook_broker broker start`` with a fresh data directory and
``listeners=PLAINTEXT://127.0.0.1:0``; the broker logs the port the kernel picked and we read
it from its first lines, so parallel tests never race for ports. `restart()` reuses that
port so clients reconnect to the same address. Every process dies with the test process
(parent-death signal, atexit) and `stop()` checks the exit code of a clean shutdown.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Self

from harness.processes import with_parent_death_signal

HOST = "127.0.0.1"
START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 30.0
_STARTED = re.compile(r"listening on PLAINTEXT://[^:]+:(\d+)")
_live: set[BrookProcess] = set()
#: What config/server.properties sets for a single node, so __consumer_offsets can be created.
SINGLE_NODE_INTERNAL_TOPICS = {
    "offsets.topic.replication.factor": "1",
    "transaction.state.log.replication.factor": "1",
    "transaction.state.log.min.isr": "1",
}


class BrookStartError(RuntimeError):
    """The broker did not come up; the message ends with the tail of its log."""


class BrookProcess:
    def __init__(self, *, data_dir: Path, overrides: Mapping[str, str]) -> None:
        self.data_dir = data_dir
        self.overrides = dict(overrides)
        self.log_path = data_dir / "broker.log"
        self.port = 0
        self.proc: subprocess.Popen[bytes] | None = None
        self._pump: threading.Thread | None = None

    @property
    def bootstrap(self) -> str:
        return f"{HOST}:{self.port}"

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def command(self) -> list[str]:
        settings = {
            "node.id": "1",
            "listeners": f"PLAINTEXT://{HOST}:{self.port}",
            "log.dirs": str(self.data_dir / "logs"),
            # One broker: internal topics must be creatable (Kafka's defaults are 3 and 2).
            **SINGLE_NODE_INTERNAL_TOPICS,
            **self.overrides,
        }
        args = [sys.executable, "-m", "brook_broker", "broker", "start"]
        for key, value in settings.items():
            args += ["--override", f"{key}={value}"]
        return args

    def start(self) -> Self:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            with_parent_death_signal(self.command()),
            stdout=log,
            stderr=subprocess.PIPE,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        _live.add(self)
        deadline = time.monotonic() + START_TIMEOUT_S
        assert self.proc.stderr is not None
        while True:
            line = self.proc.stderr.readline()
            log.write(line)
            log.flush()
            if match := _STARTED.search(line.decode(errors="replace")):
                self.port = int(match.group(1))
                break
            if not line or time.monotonic() > deadline:
                self.kill()
                raise BrookStartError(f"Brook did not start:\n{self.log_tail()}")
        # Keep draining stderr into the log file so the broker never blocks on a full pipe.
        self._pump = threading.Thread(target=_pump, args=(self.proc.stderr, log), daemon=True)
        self._pump.start()
        return self

    def stop(self, *, timeout_s: float = STOP_TIMEOUT_S) -> int:
        """SIGTERM and wait: returns the exit code (0 after a clean shutdown)."""
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else 0
        self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self.kill()
            raise
        self._finish()
        return code

    def kill(self) -> None:
        """SIGKILL: the unclean stop that recovery must survive."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(STOP_TIMEOUT_S)
        self._finish()

    def restart(self) -> Self:
        self.stop()
        return self.start()

    def _finish(self) -> None:
        _live.discard(self)
        if self._pump is not None:
            self._pump.join(5)
            self._pump = None

    def log_tail(self, lines: int = 40) -> str:
        with contextlib.suppress(FileNotFoundError):
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        return "(no log)"

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.kill()


def _pump(stream: object, log: object) -> None:
    for line in iter(stream.readline, b""):  # type: ignore[attr-defined]
        log.write(line)  # type: ignore[attr-defined]
        log.flush()  # type: ignore[attr-defined]


def start_brook(data_dir: Path, **overrides: str) -> BrookProcess:
    """Start a broker; keyword arguments are properties with dots spelled as underscores."""
    return BrookProcess(
        data_dir=data_dir, overrides={k.replace("_", "."): v for k, v in overrides.items()}
    ).start()


@atexit.register
def _kill_leftovers() -> None:
    for process in list(_live):
        process.kill()
