"""Tests of the reference Apache Kafka harness (tests/harness) against real Kafka 4.x JVMs.

They double as usage examples: Kafka's CLI tools through `run_kafka_tool`, confluent-kafka and
aiokafka against the `kafka_ref` single node, and replication behaviour (ISR shrink on kill -9,
acks=all still served, re-sync after restart) on the `kafka_ref_cluster` three-node cluster.
Each fixture's tests share one xdist group, so one worker starts each set of JVMs once.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from confluent_kafka import Consumer, KafkaError, Message, Producer
from confluent_kafka.admin import AdminClient

from harness import KafkaCluster, KafkaServer, run_kafka_tool, start_kafka
from harness.jvm import FAST_START_JVM_OPTS
from harness.wire import api_versions, cluster_info, describe_quorum

T = TypeVar("T")

single_node = pytest.mark.xdist_group("kafka_ref")
three_nodes = pytest.mark.xdist_group("kafka_ref_cluster")
pytestmark = pytest.mark.kafka_ref


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def wait_until(probe: Callable[[], T | None], *, timeout: float, what: str) -> T:
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value is not None:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(0.25)


def create_topic(bootstrap: str, topic: str, *, partitions: int, replication_factor: int) -> None:
    args = ["--bootstrap-server", bootstrap, "--create", "--topic", topic]
    args += ["--partitions", str(partitions), "--replication-factor", str(replication_factor)]
    if replication_factor >= 3:
        args += ["--config", "min.insync.replicas=2"]
    result = run_kafka_tool("kafka-topics", args, timeout=60)
    assert result.returncode == 0, result.stderr
    assert f"Created topic {topic}." in result.stdout


def produce_confluent(bootstrap: str, topic: str, values: list[bytes]) -> list[Message]:
    """Produce with acks=all and idempotence; fails the test unless every record is acknowledged."""
    delivered: list[Message] = []
    errors: list[KafkaError] = []

    def on_delivery(error: KafkaError | None, message: Message) -> None:
        (errors.append(error) if error is not None else delivered.append(message))

    producer = Producer(
        {
            "bootstrap.servers": bootstrap,
            "acks": "all",
            "enable.idempotence": True,
            "message.timeout.ms": 30000,
        }
    )
    for value in values:
        producer.produce(topic, value=value, key=b"k", on_delivery=on_delivery)
    remaining = producer.flush(60)
    assert remaining == 0, f"{remaining} records not delivered"
    assert not errors, errors
    return delivered


def consume_confluent(bootstrap: str, topic: str, count: int, *, timeout: float = 60) -> list[bytes]:
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": unique("group"),
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    values: list[bytes] = []
    try:
        consumer.subscribe([topic])
        deadline = time.monotonic() + timeout
        while len(values) < count and time.monotonic() < deadline:
            message = consumer.poll(1.0)
            if message is None:
                continue
            assert message.error() is None, message.error()
            value = message.value()
            assert value is not None
            values.append(value)
    finally:
        consumer.close()
    return values


def end_offsets(bootstrap: str, topic: str) -> dict[int, int]:
    """Partition -> log end offset, from Kafka's GetOffsetShell (`topic:partition:offset` lines)."""
    result = run_kafka_tool(
        "kafka-get-offsets", ["--bootstrap-server", bootstrap, "--topic", topic, "--time", "-1"]
    )
    assert result.returncode == 0, result.stderr
    rows = (line.rsplit(":", 2) for line in result.stdout.split())
    return {int(partition): int(offset) for _, partition, offset in rows}


# --- single node ------------------------------------------------------------------------------


@single_node
def test_single_node_answers_on_loopback(kafka_ref: KafkaServer) -> None:
    host, port = kafka_ref.bootstrap.split(":")
    assert host == "127.0.0.1"
    assert kafka_ref.pid is not None
    assert (kafka_ref.log_dir / "meta.properties").exists()
    info = cluster_info(host, int(port))
    assert [(b.node_id, b.host, b.port) for b in info.brokers] == [(1, "127.0.0.1", int(port))]
    assert info.cluster_id == kafka_ref.cluster_id
    versions = {api.api_key: api for api in api_versions(host, int(port))}
    assert versions[0].max_version >= 12  # Produce
    assert versions[18].max_version >= 4  # ApiVersions


@single_node
def test_topic_command_and_confluent_kafka_round_trip(kafka_ref: KafkaServer) -> None:
    topic = unique("ck")
    create_topic(kafka_ref.bootstrap, topic, partitions=3, replication_factor=1)
    described = run_kafka_tool(
        "kafka-topics", ["--bootstrap-server", kafka_ref.bootstrap, "--describe", "--topic", topic]
    )
    assert described.returncode == 0, described.stderr
    assert "PartitionCount: 3" in described.stdout

    values = [f"record-{i}".encode() for i in range(10)]
    assert len(produce_confluent(kafka_ref.bootstrap, topic, values)) == 10
    # One key, so all records sit in one partition, in order.
    assert consume_confluent(kafka_ref.bootstrap, topic, 10) == values
    assert sorted(end_offsets(kafka_ref.bootstrap, topic).values()) == [0, 0, 10]


@single_node
async def test_aiokafka_round_trip(kafka_ref: KafkaServer) -> None:
    topic = unique("aio")
    producer = AIOKafkaProducer(bootstrap_servers=kafka_ref.bootstrap, acks="all", request_timeout_ms=30000)
    await producer.start()
    try:
        for i in range(5):
            await producer.send_and_wait(topic, f"aio-{i}".encode(), partition=0)
    finally:
        await producer.stop()

    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=kafka_ref.bootstrap, auto_offset_reset="earliest", group_id=None
    )
    await consumer.start()
    values: list[bytes] = []
    try:
        deadline = time.monotonic() + 60
        while len(values) < 5 and time.monotonic() < deadline:
            for records in (await consumer.getmany(timeout_ms=1000)).values():
                values.extend(record.value for record in records if record.value is not None)
    finally:
        await consumer.stop()
    assert values == [f"aio-{i}".encode() for i in range(5)]
    assert end_offsets(kafka_ref.bootstrap, topic) == {0: 5}


@single_node
def test_console_producer_and_consumer(kafka_ref: KafkaServer) -> None:
    topic = unique("console")
    create_topic(kafka_ref.bootstrap, topic, partitions=1, replication_factor=1)
    produced = run_kafka_tool(
        "kafka-console-producer.sh",
        ["--bootstrap-server", kafka_ref.bootstrap, "--topic", topic],
        stdin="alpha\nbeta\ngamma\n",
        timeout=60,
    )
    assert produced.returncode == 0, produced.stderr
    consumed = run_kafka_tool(
        "kafka-console-consumer",
        [
            *("--bootstrap-server", kafka_ref.bootstrap, "--topic", topic, "--from-beginning"),
            *("--max-messages", "3", "--timeout-ms", "30000"),
        ],
        timeout=60,
    )
    assert consumed.returncode == 0, consumed.stderr
    assert consumed.stdout.split() == ["alpha", "beta", "gamma"]


@single_node
def test_restart_keeps_data_and_port(kafka_ref: KafkaServer) -> None:
    topic = unique("restart")
    produce_confluent(kafka_ref.bootstrap, topic, [b"before"])
    bootstrap, old_pid = kafka_ref.bootstrap, kafka_ref.pid
    kafka_ref.restart()
    assert kafka_ref.bootstrap == bootstrap
    assert kafka_ref.pid not in (None, old_pid)
    assert consume_confluent(kafka_ref.bootstrap, topic, 1) == [b"before"]


# --- three nodes ------------------------------------------------------------------------------


def partition_state(bootstrap: str, topic: str) -> tuple[int, list[int], list[int]] | None:
    """(leader, replicas, isr) of partition 0 as the cluster reports it, None if not known yet."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    metadata = admin.list_topics(topic, timeout=10)
    topic_metadata = metadata.topics.get(topic)
    if topic_metadata is None or topic_metadata.error is not None or 0 not in topic_metadata.partitions:
        return None
    partition = topic_metadata.partitions[0]
    return partition.leader, sorted(partition.replicas), sorted(partition.isrs)


@three_nodes
def test_cluster_has_three_live_brokers(kafka_ref_cluster: KafkaCluster) -> None:
    assert len(kafka_ref_cluster) == 3
    for node in kafka_ref_cluster:
        info = cluster_info(node.host, node.port)
        assert sorted(b.node_id for b in info.brokers) == [1, 2, 3]
        assert info.controller_id in (1, 2, 3)
        # Every node, brokers included, agrees on the quorum leader (DescribeQuorum is forwarded).
        assert describe_quorum(node.host, node.port).leader_id == kafka_ref_cluster.controller_id()


@three_nodes
@pytest.mark.timeout(300)
def test_isr_shrinks_on_kill_and_acks_all_still_works(kafka_ref_cluster: KafkaCluster) -> None:
    cluster = kafka_ref_cluster
    topic = unique("rf3")
    create_topic(cluster.bootstrap, topic, partitions=1, replication_factor=3)
    leader, replicas, _ = wait_until(
        lambda: s if (s := partition_state(cluster.bootstrap, topic)) and s[2] == [1, 2, 3] else None,
        timeout=60,
        what="ISR [1, 2, 3]",
    )
    assert replicas == [1, 2, 3]
    produce_confluent(cluster.bootstrap, topic, [b"before-kill"])

    # kill -9 a follower: the controller fences it when its broker session expires, which
    # removes it from the ISR; 2 replicas still satisfy min.insync.replicas=2.
    victim = cluster.node(next(node_id for node_id in (1, 2, 3) if node_id != leader))
    victim.kill()
    assert not victim.is_running()
    survivors = sorted({1, 2, 3} - {victim.node_id})
    wait_until(
        lambda: (
            s if (s := partition_state(cluster.running_bootstrap(), topic)) and s[2] == survivors else None
        ),
        timeout=90,
        what=f"ISR {survivors} after killing node {victim.node_id}",
    )
    delivered = produce_confluent(
        cluster.running_bootstrap(), topic, [f"after-kill-{i}".encode() for i in range(5)]
    )
    assert len(delivered) == 5

    # Leave a full cluster for the next test: the node re-joins and catches up into the ISR.
    victim.start()
    wait_until(
        lambda: s if (s := partition_state(cluster.bootstrap, topic)) and s[2] == [1, 2, 3] else None,
        timeout=90,
        what="ISR [1, 2, 3] after restart",
    )
    assert consume_confluent(cluster.bootstrap, topic, 6) == [b"before-kill"] + [
        f"after-kill-{i}".encode() for i in range(5)
    ]


@single_node
def test_perf_and_config_tools_run(kafka_ref: KafkaServer) -> None:
    topic = unique("perf")
    perf = run_kafka_tool(
        "kafka-producer-perf-test",
        [
            *("--topic", topic, "--num-records", "2000", "--record-size", "100", "--throughput", "-1"),
            *("--producer-props", f"bootstrap.servers={kafka_ref.bootstrap}", "acks=all"),
        ],
        timeout=120,
    )
    assert perf.returncode == 0, perf.stderr
    assert "2000 records sent" in perf.stdout
    configs = run_kafka_tool(
        "kafka-configs",
        [
            *("--bootstrap-server", kafka_ref.bootstrap, "--describe"),
            *("--entity-type", "topics", "--entity-name", topic),
        ],
    )
    assert configs.returncode == 0, configs.stderr
    assert f"Dynamic configs for topic {topic}" in configs.stdout


@single_node
def test_static_quorum_single_node(tmp_path: Path) -> None:
    """The Kafka 3.x-style `controller.quorum.voters` set-up, formatted without --standalone."""
    with start_kafka(work_dir=tmp_path, quorum="static", jvm_opts=FAST_START_JVM_OPTS) as kafka:
        assert "controller.quorum.voters" in kafka.node.properties
        info = cluster_info(kafka.node.host, kafka.port)
        assert [b.node_id for b in info.brokers] == [1]
    assert kafka.pid is None
