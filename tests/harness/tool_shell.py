"""Apache Kafka's CLI tools, many invocations in one JVM: `ToolShell` (tests/tools/java/ToolShell.java).

`run_kafka_tool()` starts a JVM per invocation, one to two seconds of CPU each on a 2-core
machine. A test suite that runs dozens of `kafka-topics`/`kafka-configs`/... commands starts
one `ToolShell` instead: it calls the same main classes with the same arguments, one command
at a time, and returns each one's exit code, stdout and stderr (see the Java file for how
`Exit.exit` and the standard streams are handled). Tools that call `System.exit` themselves
(VerifiableProducer) still need `run_kafka_tool()`.

`compile_java()` compiles test programs (the shell, Java client programs) against the Kafka
jars with `javac`; the output directory goes on the shell's classpath, so a compiled program's
`main` runs in the shell like a tool.
"""

from __future__ import annotations

import json
import os
import queue
import shutil
import subprocess
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO, Self

from harness.dist import KafkaDist, ensure_kafka_dist
from harness.jvm import (
    JVM_BASE_OPTS,
    QUICK_START_JVM_OPTS,
    java_executable,
    log4j2_config,
    resolve_tool,
)
from harness.processes import with_parent_death_signal

SHELL_CLASS = "ToolShell"
START_TIMEOUT_S = 60.0


class ToolShellError(RuntimeError):
    """The shell did not start, died, or a command did not finish in time (the shell is restarted)."""


@dataclass(frozen=True)
class ToolResult:
    exit_code: int
    stdout: str
    stderr: str

    @property
    def lines(self) -> list[str]:
        return self.stdout.splitlines()


def compile_java(sources: Sequence[Path], out_dir: Path, *, dist: KafkaDist | None = None) -> Path:
    """`javac` ``sources`` against the Kafka jars into ``out_dir``; returns ``out_dir``."""
    dist = dist or ensure_kafka_dist()
    javac = shutil.which("javac")
    if javac is None:
        raise ToolShellError("javac is not on PATH (a JDK, not just a JRE, is needed)")
    out_dir.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(
        [
            javac,
            "-nowarn",
            "-encoding",
            "UTF-8",
            "-cp",
            dist.classpath,
            "-d",
            str(out_dir),
            *map(str, sources),
        ],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    if result.returncode != 0:
        raise ToolShellError(f"javac failed:\n{result.stdout}{result.stderr}")
    return out_dir


class ToolShell:
    """A running ToolShell JVM. Not thread-safe: one command at a time."""

    def __init__(self, classes: Path, *, log_path: Path, heap: str = "512m") -> None:
        self.classes = classes
        self.log_path = log_path
        self.heap = heap
        self._proc: subprocess.Popen[str] | None = None
        self._replies: queue.Queue[str | None] = queue.Queue()

    def start(self) -> Self:
        dist = ensure_kafka_dist()
        command = [
            java_executable(),
            f"-Xmx{self.heap}",
            *JVM_BASE_OPTS,
            *QUICK_START_JVM_OPTS,
            f"-Dlog4j2.configurationFile={log4j2_config(dist, broker=False)}",
            "-cp",
            os.pathsep.join([dist.classpath, str(self.classes)]),
            SHELL_CLASS,
        ]
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self._proc = subprocess.Popen(
                with_parent_death_signal(command),
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=log,
                text=True,
                encoding="utf-8",
            )
        self._replies = queue.Queue()
        assert self._proc.stdout is not None
        threading.Thread(target=_pump, args=(self._proc.stdout, self._replies), daemon=True).start()
        ready = self._next_reply(START_TIMEOUT_S, what="start-up")
        if json.loads(ready) != {"ready": True}:
            raise ToolShellError(f"unexpected first line from the shell: {ready!r}")
        return self

    def run(
        self, tool: str, args: Sequence[str], *, stdin: str | None = None, timeout: float = 60.0
    ) -> ToolResult:
        """Run one tool (script name as in Kafka's bin/, a main class, or the class name of a
        program compiled with `compile_java`) and wait for it."""
        if self._proc is None or self._proc.poll() is not None:
            self.start()
        assert self._proc is not None and self._proc.stdin is not None
        # A compiled test program (no package) runs by its class name.
        main = tool if tool.isidentifier() else resolve_tool(tool)
        command = {"main": main, "args": list(args), "stdin": stdin}
        self._proc.stdin.write(json.dumps(command) + "\n")
        self._proc.stdin.flush()
        try:
            reply = json.loads(self._next_reply(timeout, what=f"{tool} {' '.join(args)}"))
        except ToolShellError:
            self.close()  # a hung tool poisons the shell; the next run starts a fresh one
            raise
        return ToolResult(exit_code=reply["exit"], stdout=reply["stdout"], stderr=reply["stderr"])

    def _next_reply(self, timeout: float, *, what: str) -> str:
        try:
            line = self._replies.get(timeout=timeout)
        except queue.Empty:
            raise ToolShellError(f"no answer within {timeout}s to {what}") from None
        if line is None:
            raise ToolShellError(f"the shell exited during {what}; see {self.log_path}")
        return line

    def close(self) -> None:
        if self._proc is None:
            return
        if self._proc.stdin is not None:
            self._proc.stdin.close()
        try:
            self._proc.wait(10)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait(10)
        self._proc = None

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def _pump(stream: IO[str], replies: queue.Queue[str | None]) -> None:
    for line in stream:
        replies.put(line)
    replies.put(None)
