"""Fixtures for the log layer's tests: a fake clock, a `UnifiedLog` opener, a `LogManager` factory.

Shared helpers live in ``log_testkit`` (this directory is put on ``sys.path`` for it, as the
root conftest does for ``harness``).
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

_HERE = str(Path(__file__).resolve().parent)
if _HERE not in sys.path:
    sys.path.append(_HERE)

from log_testkit import TP, FakeClock, NewLogManager, OpenLog  # noqa: E402

from brook_broker.config.log_config import LogConfig  # noqa: E402
from brook_broker.log.manager import LogManager  # noqa: E402
from brook_broker.log.unified_log import UnifiedLog  # noqa: E402


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def open_log(tmp_path: Path, clock: FakeClock) -> Iterator[OpenLog]:
    """``open_log(config=..., **load_kwargs)``: a UnifiedLog on the fake clock.

    It is in ``tmp_path/events-0`` unless ``dir=`` says otherwise. Every log opened is closed at
    teardown, so file descriptors do not pile up over the suite.
    """
    opened: list[UnifiedLog] = []

    def opener(config: LogConfig | None = None, **kwargs: Any) -> UnifiedLog:
        kwargs.setdefault("clean_shutdown", True)
        kwargs.setdefault("dir", tmp_path / str(TP))
        log = UnifiedLog.load(topic_partition=TP, config=config or LogConfig(), time=clock, **kwargs)
        opened.append(log)
        return log

    yield opener
    for log in opened:
        try:
            log.close()  # a no-op for a log the test closed or deleted itself
        except Exception:
            # A simulated crash leaves files that close() trips over: release the descriptors alone.
            with contextlib.suppress(Exception):
                log.local_log.close_handlers()


@pytest.fixture
def new_log_manager(clock: FakeClock) -> Iterator[NewLogManager]:
    """``new_log_manager(dirs, **kwargs)``: a LogManager (node 1, cluster ``c1``) on the fake clock.

    Every manager made is shut down at teardown, newest first, which closes its logs.
    """
    made: list[LogManager] = []

    def factory(dirs: list[Path], **kwargs: Any) -> LogManager:
        manager = LogManager(dirs, node_id=1, cluster_id="c1", time=clock, **kwargs)
        made.append(manager)
        return manager

    yield factory
    for manager in reversed(made):
        manager.shutdown()
