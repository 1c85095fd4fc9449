"""Helpers for the `brook` client command tests: run the CLI as a subprocess or in-process.

`brook_cli` runs ``python -m brook_broker ...`` against the session's shared broker (the
`shared_brook` fixture from tests/harness) and returns exit code, stdout and stderr;
`run_cli` is the same without the ``--bootstrap-server`` flag; `closed_port` is a loopback
port nothing listens on, for unreachable-broker cases.
"""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from collections.abc import Callable

import pytest

from harness.brook import BrookProcess
from harness.processes import free_ports

#: Generous: on a loaded 2-core machine the interpreter alone can take seconds to start.
SUBPROCESS_TIMEOUT_S = 120


@dataclasses.dataclass(frozen=True)
class Run:
    code: int
    stdout: str
    stderr: str

    @property
    def stderr_lines(self) -> list[str]:
        return self.stderr.splitlines()


def run_brook(*args: str, stdin: str | bytes | None = None, env: dict[str, str] | None = None) -> Run:
    """Run ``python -m brook_broker ARGS`` to completion."""
    data = stdin.encode() if isinstance(stdin, str) else stdin
    proc = subprocess.run(
        [sys.executable, "-m", "brook_broker", *args],
        input=data if data is not None else b"",
        capture_output=True,
        timeout=SUBPROCESS_TIMEOUT_S,
        env={**os.environ, **(env or {})},
        check=False,
    )
    return Run(proc.returncode, proc.stdout.decode(errors="replace"), proc.stderr.decode(errors="replace"))


BrookCli = Callable[..., Run]


@pytest.fixture
def run_cli() -> BrookCli:
    """`run_brook` itself, for tests that bring their own broker or none."""
    return run_brook


@pytest.fixture
def brook_cli(shared_brook: BrookProcess) -> BrookCli:
    """``brook_cli("topics", "list", stdin=...)``: the CLI pointed at the shared broker."""

    def run(*args: str, stdin: str | bytes | None = None) -> Run:
        return run_brook(*args, "--bootstrap-server", shared_brook.bootstrap, stdin=stdin)

    return run


@pytest.fixture
def closed_port() -> int:
    """A loopback port that refuses connections (bound once, then released)."""
    [port] = free_ports(1)
    return port
