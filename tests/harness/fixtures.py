"""pytest plugin: session-scoped reference Apache Kafka fixtures, `kafka_ref` and `kafka_ref_cluster`.

Registered by tests/conftest.py (`pytest_plugins = ["harness.fixtures"]`). Tests that use these
fixtures should carry `@pytest.mark.kafka_ref`, so `-m "not kafka_ref"` skips every JVM-backed test.
"Session" means per pytest-xdist worker: each worker that runs such a test starts its own JVMs, so
put the tests that share a fixture in one `xdist_group` (the suite runs with `--dist loadgroup`).

The fixtures run Kafka with a C1-only JIT (`FAST_START_JVM_OPTS`) for quick start-up; benchmarks
call `start_kafka()` with its default, Kafka's stock JVM flags.

When `java` or `mvn` is missing the fixtures skip (with the reason), unless BROOK_KAFKA_REF_REQUIRED=1
(set it in CI) turns that into an error. A start-up failure is always an error, never a skip.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator

import pytest

from harness.jvm import FAST_START_JVM_OPTS
from harness.kafka import KafkaCluster, KafkaServer, start_kafka, start_kafka_cluster

MARKER = "kafka_ref"


def require_java_and_maven() -> None:
    missing = [tool for tool in ("java", "mvn") if shutil.which(tool) is None]
    if not missing:
        return
    reason = f"reference Kafka needs {' and '.join(missing)} on PATH"
    if os.environ.get("BROOK_KAFKA_REF_REQUIRED") == "1":
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def kafka_ref(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KafkaServer]:
    """A single-node Apache Kafka (combined broker+controller) on 127.0.0.1, shared by the session.

    Tests must leave it running; use topic names unique to the test. `kafka_ref.bootstrap` is the
    `host:port` for clients; `kafka_ref.server_log` helps when an assertion fails.
    """
    require_java_and_maven()
    # tmp_path_factory keeps the last runs' directories (logs!) and cleans up older ones itself.
    # C1-only JIT: starts in about half the time; these fixtures are for behaviour, not speed.
    server = start_kafka(work_dir=tmp_path_factory.mktemp("kafka-ref"), jvm_opts=FAST_START_JVM_OPTS)
    try:
        yield server
    finally:
        server.close()


@pytest.fixture(scope="session")
def kafka_ref_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KafkaCluster]:
    """Three combined broker+controller nodes (ids 1-3, one KRaft quorum) on 127.0.0.1.

    A test that kills or stops a node must start it again before it ends (`node.start()`), so the
    next test gets a full cluster; `kafka_ref_cluster.wait_ready()` waits for all three.
    """
    require_java_and_maven()
    cluster = start_kafka_cluster(
        nodes=3, work_dir=tmp_path_factory.mktemp("kafka-ref-cluster"), jvm_opts=FAST_START_JVM_OPTS
    )
    try:
        yield cluster
    finally:
        cluster.close()
