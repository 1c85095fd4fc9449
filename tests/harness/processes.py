"""Child processes of a test run: loopback ports to give them, and dying with the test process.

Every process the harness starts (reference Kafka JVMs and tools, Brook, group members) and the
e2e control plane's components (`e2e.processes`) go through `with_parent_death_signal`, and take
their ports from `free_ports`.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import threading
from collections.abc import Sequence

HOST = "127.0.0.1"


def with_parent_death_signal(command: Sequence[str]) -> list[str]:
    """Prefix ``setpriv --pdeathsig KILL`` so the process dies with the process that started it.

    This is what prevents orphaned JVMs and servers when pytest is killed with SIGKILL or by
    pytest-timeout's thread method (atexit does not run then). The kernel ties the signal to the
    *thread* that forked, so it is only used from the main thread: a process started from a
    short-lived worker thread would otherwise be killed when that thread ends. ``setpriv`` execs,
    so the pid stays the command's own.
    """
    setpriv = shutil.which("setpriv")
    if setpriv is None or threading.current_thread() is not threading.main_thread():
        return list(command)
    return [setpriv, "--pdeathsig=KILL", "--", *command]


def free_ports(count: int) -> list[int]:
    """``count`` distinct ports that were free on 127.0.0.1 a moment ago (all held open while picking).

    The usual bind-to-0 race is accepted: a caller that can tell "port in use" retries.
    """
    with contextlib.ExitStack() as stack:
        sockets = [
            stack.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) for _ in range(count)
        ]
        for sock in sockets:
            sock.bind((HOST, 0))
        return [int(sock.getsockname()[1]) for sock in sockets]
