"""Fixtures of the differential suite: the two targets, and one test per scenario.

Every test module here defines scenarios (`differential.framework.scenario`) and a
``test_same_as_kafka(scenario, targets)``; `pytest_generate_tests` parametrizes it with the
module's scenarios, in definition order, ids = scenario names (so ``-k produce_offsets`` picks one).

Targets: the reference Kafka is the session's `kafka_ref` (one JVM per xdist worker, shared by
every test in the ``kafka_ref`` xdist group); Brook is a broker of its own per worker, so
scenarios that change cluster-wide configs cannot disturb other suites' shared broker.
``BROOK_DIFFERENTIAL_TARGETS=brook`` (or ``kafka``) runs one side only: the observation is
printed, nothing is compared, and no JVM starts for a Brook-only run.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
from differential.framework import TARGETS, Scenario, Target

from harness.brook import BrookProcess
from harness.reference_settings import NODE_ID, start_brook_like_kafka


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "differs_on_purpose(reason): Brook differs from Apache Kafka here on purpose"
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "scenario" not in metafunc.fixturenames:
        return
    found = [value for value in vars(metafunc.module).values() if isinstance(value, Scenario)]
    params = [
        pytest.param(
            s,
            id=s.name,
            marks=[pytest.mark.differs_on_purpose(s.difference.reason)] if s.difference else [],
        )
        for s in found
    ]
    metafunc.parametrize("scenario", params)


def selected_targets() -> tuple[str, ...]:
    raw = os.environ.get("BROOK_DIFFERENTIAL_TARGETS", ",".join(TARGETS))
    chosen = tuple(t for t in TARGETS if t in {part.strip() for part in raw.split(",")})
    if not chosen:
        raise pytest.UsageError(f"BROOK_DIFFERENTIAL_TARGETS={raw!r}: choose from {TARGETS}")
    return chosen


@pytest.fixture(scope="session")
def differential_brook(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrookProcess]:
    """This worker's Brook for the differential suite (its own, see the module docstring)."""
    with start_brook_like_kafka(tmp_path_factory.mktemp("differential-brook")) as process:
        yield process


@pytest.fixture
def targets(request: pytest.FixtureRequest) -> dict[str, Target]:
    """The targets of one comparison, Kafka first; they share a run id (same topic names)."""
    run_id = uuid.uuid4().hex[:10]
    out = {}
    for name in selected_targets():
        server = request.getfixturevalue("kafka_ref" if name == "kafka" else "differential_brook")
        out[name] = Target(name=name, bootstrap=server.bootstrap, node_id=NODE_ID, run_id=run_id)
    return out
