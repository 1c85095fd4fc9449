"""Child processes of the e2e control plane: start with a log file, wait for health, stop.

Used by ``cluster`` for etcd, the Kubernetes components and kwok. Every process is started with
``setpriv --pdeathsig KILL`` (it dies with the Python process even when that is SIGKILLed) and in
its own session (Ctrl-C reaches pytest only, which then tears down in order).
"""

from __future__ import annotations

import contextlib
import signal
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from harness.processes import with_parent_death_signal


class ClusterStartError(RuntimeError):
    """A component did not come up; the message includes the tail of its log."""


def log_tail(path: Path, lines: int = 30) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:])


def ssl_context(ca_file: Path | None) -> ssl.SSLContext:
    """Verify against ``ca_file``; without one, trust anything (loopback health endpoints only)."""
    if ca_file is not None:
        return ssl.create_default_context(cafile=str(ca_file))
    # Controller-manager and scheduler serve /healthz with in-memory self-signed certs.
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


@dataclass(slots=True)
class Component:
    """One running binary and its log file (the first line of the log is the command)."""

    name: str
    command: list[str]
    log: Path
    env: Mapping[str, str] | None = None
    process: subprocess.Popen[bytes] | None = None
    _sink: IO[bytes] | None = None

    def start(self) -> None:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        self._sink = self.log.open("ab")
        self._sink.write(f"$ {' '.join(self.command)}\n".encode())
        self._sink.flush()
        self.process = subprocess.Popen(
            with_parent_death_signal(self.command),
            stdout=self._sink,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=dict(self.env) if self.env is not None else None,
            start_new_session=True,
        )

    def check_alive(self) -> None:
        if self.process is not None and self.process.poll() is not None:
            raise ClusterStartError(
                f"{self.name} exited with {self.process.returncode}; {self.log}:\n{log_tail(self.log)}"
            )

    def wait_healthy(
        self,
        url: str,
        *,
        deadline: float,
        context: ssl.SSLContext | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        """Poll a health URL until it answers 200; fail early if the process dies, or at ``deadline``."""
        last = ""
        while True:
            self.check_alive()
            request = urllib.request.Request(url, headers=dict(headers or {}))
            try:
                with urllib.request.urlopen(request, timeout=5, context=context) as response:
                    if response.status == 200:
                        return
            except urllib.error.HTTPError as error:
                last = f"HTTP {error.code}: {error.read().decode(errors='replace')[-400:]}"
            except OSError as error:
                last = str(error)
            if time.monotonic() >= deadline:
                raise ClusterStartError(
                    f"{self.name} not healthy at {url} in time (last: {last}); "
                    f"{self.log}:\n{log_tail(self.log)}"
                )
            time.sleep(0.25)

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM, then SIGKILL after ``timeout`` seconds."""
        if self.process is not None:
            stop_process(self.process, timeout=timeout)
        if self._sink is not None:
            self._sink.close()
            self._sink = None


def stop_process(
    process: subprocess.Popen[bytes], *, timeout: float, sig: signal.Signals = signal.SIGTERM
) -> None:
    """Send ``sig`` (SIGTERM: a clean stop) and wait; SIGKILL if it is still running after ``timeout``."""
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        process.send_signal(sig)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        process.wait(timeout=timeout)
