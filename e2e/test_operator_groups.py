"""ConsumerGroup scenarios: the operator on the control plane observes and resets a group on a Brook
broker and on reference Apache Kafka, both on loopback."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from brook_operator import admin
from e2e import operator_support as support
from e2e.kubeapi import JsonObject
from e2e.testing import KubeCluster
from harness.brook import BrookProcess, start_brook
from harness.fixtures import require_java_and_maven
from harness.jvm import FAST_START_JVM_OPTS
from harness.kafka import KafkaServer, start_kafka

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module", autouse=True)
def _crds(k8s_cluster: KubeCluster) -> None:
    support.install_crds(k8s_cluster)


@pytest.fixture(scope="module")
def brook(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrookProcess]:
    with start_brook(tmp_path_factory.mktemp("e2e-groups-brook")) as process:
        yield process


@pytest.fixture(scope="module")
def kafka(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KafkaServer]:
    require_java_and_maven()  # skip, or fail under BROOK_KAFKA_REF_REQUIRED=1, as the harness fixtures do
    server = start_kafka(work_dir=tmp_path_factory.mktemp("e2e-kafka"), jvm_opts=FAST_START_JVM_OPTS)
    try:
        yield server
    finally:
        server.stop()


async def _prepare(bootstrap: str, topic: str, group: str) -> None:
    async with admin.KafkaAdmin(bootstrap_servers=bootstrap) as kafka:
        await kafka.create_topic(name=topic, partitions=2, replication_factor=1, config={})
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        for i in range(8):
            await producer.send_and_wait(topic, b"x", partition=i % 2)
    finally:
        await producer.stop()
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
    await consumer.start()
    try:
        consumer.assign([TopicPartition(topic, 0), TopicPartition(topic, 1)])
        await consumer.commit({TopicPartition(topic, 0): 1, TopicPartition(topic, 1): 2})
    finally:
        await consumer.stop()


def test_group_on_brook(k8s_cluster: KubeCluster, namespace: str, brook: BrookProcess) -> None:
    _group_status_and_offset_reset(k8s_cluster, namespace, brook.bootstrap)


@pytest.mark.kafka_ref
def test_group_on_reference_kafka(k8s_cluster: KubeCluster, namespace: str, kafka: KafkaServer) -> None:
    _group_status_and_offset_reset(k8s_cluster, namespace, kafka.bootstrap)


def _group_status_and_offset_reset(k8s_cluster: KubeCluster, namespace: str, bootstrap: str) -> None:
    topic, group = f"orders-{namespace}", f"billing-{namespace}"
    asyncio.run(_prepare(bootstrap, topic, group))
    with support.running_operator(
        k8s_cluster, namespace=namespace, overrides={"*/ref": bootstrap}
    ) as operator:
        k8s_cluster.apply(support.kafkacluster("ref"), namespace=namespace)
        cg = support.consumergroup("billing", cluster="ref", groupId=group)
        k8s_cluster.apply(cg, namespace=namespace)

        def observed() -> JsonObject | None:
            body = support.get_cr(k8s_cluster, namespace, "consumergroups", "billing")
            status = (body or {}).get("status", {})
            return body if status.get("totalLag") == 3 + 2 else None

        body = k8s_cluster.wait_for(observed, timeout=60, what="group lag in status", describe=operator.log)
        assert body["status"]["state"] == "Empty" and body["status"]["members"] == 0
        table = k8s_cluster.kubectl("get", "consumergroups", f"--namespace={namespace}").stdout.splitlines()
        assert table[0].split()[:6] == ["NAME", "CLUSTER", "STATE", "MEMBERS", "LAG", "READY"]
        assert table[1].split()[:6] == ["billing", "ref", "Empty", "0", "5", "True"]

        cg["spec"]["offsetReset"] = {
            "requestId": "r1",
            "strategy": "earliest",
            "topics": [topic],
            "dryRun": True,
        }
        k8s_cluster.apply(cg, namespace=namespace)
        body = support.wait_for_condition(
            k8s_cluster,
            operator,
            namespace=namespace,
            plural="consumergroups",
            name="billing",
            type_="OffsetReset",
            reason="DryRun",
        )
        planned = body["status"]["offsetReset"]["offsets"]
        assert [(p["partition"], p["previousOffset"], p["newOffset"]) for p in planned] == [
            (0, 1, 0),
            (1, 2, 0),
        ]

        cg["spec"]["offsetReset"] = {"requestId": "r2", "strategy": "latest", "topics": [topic]}
        k8s_cluster.apply(cg, namespace=namespace)
        support.wait_for_condition(
            k8s_cluster,
            operator,
            namespace=namespace,
            plural="consumergroups",
            name="billing",
            type_="OffsetReset",
            reason="Completed",
        )

        async def committed() -> dict[tuple[str, int], int]:
            async with admin.KafkaAdmin(bootstrap_servers=bootstrap) as client:
                return await client.group_offsets(group)

        assert asyncio.run(committed()) == {(topic, 0): 4, (topic, 1): 4}
        assert "OffsetsReset" in {r for _, r, _ in support.events_for(k8s_cluster, namespace, "billing")}
