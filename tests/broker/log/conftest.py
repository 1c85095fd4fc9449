"""Fixtures for the log layer's tests: a fake clock and a `UnifiedLog` opener.

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

from log_testkit import TP, FakeClock, OpenLog  # noqa: E402

from brook_broker.config.log_config import LogConfig  # noqa: E402
from brook_broker.log.unified_log import UnifiedLog  # noqa: E402


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def open_log(tmp_path: Path, clock: FakeClock) -> Iterator[OpenLog]:
    """``open_log(config=..., **load_kwargs)``: a UnifiedLog in ``tmp_path/events-0`` on the fake clock.

    Every log opened is closed at teardown, so file descriptors do not pile up over the suite.
    """
    opened: list[UnifiedLog] = []

    def opener(config: LogConfig | None = None, **kwargs: Any) -> UnifiedLog:
        kwargs.setdefault("clean_shutdown", True)
        log = UnifiedLog.load(
            dir=tmp_path / str(TP), topic_partition=TP, config=config or LogConfig(), time=clock, **kwargs
        )
        opened.append(log)
        return log

    yield opener
    for log in opened:
        with contextlib.suppress(Exception):  # a test may have closed or deleted it already
            log.close()
