"""Tests of the harness's pure parts (config rendering, quorum wiring, tool names) and of the Maven step.

The pure tests need no JVM and run everywhere. The Maven test resolves the jars into a temporary
home from two processes at once, to check the lock that pytest-xdist workers rely on.
"""

from __future__ import annotations

import base64
import os
import subprocess
import sys
from pathlib import Path

import pytest

from harness.dist import REPO_ROOT, kafka_version
from harness.jvm import KAFKA_TOOLS, resolve_tool
from harness.kafka import _quorum_config
from harness.node import random_kafka_uuid, render_properties, server_properties
from harness.processes import free_ports


def test_pinned_version_is_a_4x_release() -> None:
    major, _minor, _patch = kafka_version().split(".")
    assert major == "4"


def test_server_properties_bind_loopback_and_fit_cluster_size() -> None:
    single = server_properties(
        node_id=1,
        port=1111,
        controller_port=2222,
        log_dir=Path("/data"),
        quorum={"controller.quorum.bootstrap.servers": "127.0.0.1:2222"},
        cluster_size=1,
        overrides={"num.partitions": "4"},
    )
    assert single["listeners"] == "PLAINTEXT://127.0.0.1:1111,CONTROLLER://127.0.0.1:2222"
    assert single["advertised.listeners"].startswith("PLAINTEXT://127.0.0.1:1111")
    assert single["offsets.topic.replication.factor"] == "1"
    assert single["transaction.state.log.min.isr"] == "1"
    assert single["group.initial.rebalance.delay.ms"] == "0"
    assert single["num.partitions"] == "4"  # overrides win
    assert "log.dirs=/data\n" in render_properties(single)

    three = server_properties(
        node_id=2, port=1, controller_port=2, log_dir=Path("/d"), quorum={}, cluster_size=3
    )
    assert three["offsets.topic.replication.factor"] == "3"
    assert three["transaction.state.log.min.isr"] == "2"


def test_quorum_config_dynamic_and_static() -> None:
    voters = [(1, 9001, "dirA"), (2, 9002, "dirB"), (3, 9003, "dirC")]
    props, args = _quorum_config("dynamic", voters)
    assert props == {"controller.quorum.bootstrap.servers": "127.0.0.1:9001,127.0.0.1:9002,127.0.0.1:9003"}
    initial = "1@127.0.0.1:9001:dirA,2@127.0.0.1:9002:dirB,3@127.0.0.1:9003:dirC"
    assert args == ["--initial-controllers", initial]
    assert _quorum_config("dynamic", voters[:1])[1] == ["--standalone"]
    props, args = _quorum_config("static", voters)
    assert props == {"controller.quorum.voters": "1@127.0.0.1:9001,2@127.0.0.1:9002,3@127.0.0.1:9003"}
    assert args == []


def test_resolve_tool_accepts_script_names_and_classes() -> None:
    assert resolve_tool("kafka-topics") == "org.apache.kafka.tools.TopicCommand"
    assert resolve_tool("kafka-topics.sh") == "org.apache.kafka.tools.TopicCommand"
    assert resolve_tool("kafka.admin.ConfigCommand") == "kafka.admin.ConfigCommand"
    with pytest.raises(ValueError, match="unknown Kafka tool"):
        resolve_tool("kafka-nope")
    assert all(cls.count(".") >= 2 for cls in KAFKA_TOOLS.values())


def test_random_kafka_uuid_and_free_ports() -> None:
    ids = {random_kafka_uuid() for _ in range(200)}
    assert len(ids) == 200
    for text in ids:
        assert len(text) == 22 and not text.startswith("-")
        assert len(base64.urlsafe_b64decode(text + "==")) == 16
    ports = free_ports(6)
    assert len(set(ports)) == 6


@pytest.mark.kafka_ref
@pytest.mark.timeout(600)
def test_concurrent_ensure_runs_maven_once(tmp_path: Path) -> None:
    """Two processes race to resolve the jars into an empty home: one runs Maven, both succeed."""
    env = {**os.environ, "BROOK_KAFKA_HOME": str(tmp_path / "home")}
    script = str(REPO_ROOT / "tests" / "harness" / "dist.py")
    racers = [
        subprocess.Popen(
            [sys.executable, script], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    outputs = [racer.communicate(timeout=540) for racer in racers]
    assert [racer.returncode for racer in racers] == [0, 0], outputs
    assert sum("resolved Kafka" in stderr for _, stderr in outputs) == 1, outputs
    libs = tmp_path / "home" / "libs"
    assert {stdout.strip() for stdout, _ in outputs} == {str(libs)}
    assert (libs / f"kafka_2.13-{kafka_version()}.jar").exists()
    assert not list((tmp_path / "home").glob("libs.*")), "staging directories left behind"
    again = subprocess.run(
        [sys.executable, script], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert again.returncode == 0
    assert "resolved" not in again.stderr
