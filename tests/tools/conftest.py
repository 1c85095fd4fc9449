"""Fixtures for Kafka's own tools against Brook: the compiled Java programs, the tool shell, the brokers.

`tool_shell` is one JVM per xdist worker that runs Kafka's CLI tools (and ClientsCheck, the
Java kafka-clients program compiled from tests/tools/java) command after command; see
`harness.tool_shell`. `tools_brook` is a Brook of its own (these tests change cluster-wide
configs), started with the reference Kafka's settings so both answer alike; `kafka_ref` is the
session's reference Kafka, used where comparing with the real thing is cheap.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.brook import BrookProcess
from harness.reference_settings import start_brook_like_kafka
from harness.tool_shell import ToolShell, compile_java

JAVA_SOURCES = Path(__file__).parent / "java"


@pytest.fixture(scope="session")
def java_classes(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """tests/tools/java/*.java compiled against the Kafka jars (javac, once per worker)."""
    return compile_java(sorted(JAVA_SOURCES.glob("*.java")), tmp_path_factory.mktemp("java-classes"))


@pytest.fixture(scope="session")
def tool_shell(java_classes: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ToolShell]:
    shell = ToolShell(java_classes, log_path=tmp_path_factory.mktemp("tool-shell") / "jvm.log").start()
    try:
        yield shell
    finally:
        shell.close()


@pytest.fixture(scope="session")
def tools_brook(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrookProcess]:
    with start_brook_like_kafka(tmp_path_factory.mktemp("tools-brook")) as process:
        yield process
