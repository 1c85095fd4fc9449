"""pytest plugin: Brook brokers as fixtures, registered by tests/conftest.py.

`brook` gives a test its own fresh broker (use it when the test restarts, kills or
reconfigures the broker); `shared_brook` is one broker per pytest-xdist worker for tests
that only need topics of their own (`unique_topic` names them).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.brook import BrookProcess, start_brook


@pytest.fixture
def brook(tmp_path: Path) -> Iterator[BrookProcess]:
    with start_brook(tmp_path / "brook") as process:
        yield process


@pytest.fixture(scope="session")
def shared_brook(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrookProcess]:
    with start_brook(tmp_path_factory.mktemp("shared-brook")) as process:
        yield process


@pytest.fixture
def unique_topic(request: pytest.FixtureRequest) -> str:
    """A topic name no other test uses: the test's name plus a random suffix."""
    base = "".join(c if c.isalnum() else "-" for c in request.node.name)[:60].strip("-")
    return f"{base}-{uuid.uuid4().hex[:8]}"
