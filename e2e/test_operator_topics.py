"""Topic scenarios: the operator on a real control plane drives a real Brook broker on loopback.

The KafkaCluster `demo` exists (so clusterRef resolves) and the operator's bootstrap override points
it at a Brook process started by the test, in place of the fake in-cluster brokers.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from brook_operator import admin
from e2e import operator_support as support
from e2e.kubeapi import JsonObject
from e2e.testing import KubeCluster
from harness.brook import BrookProcess, start_brook

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module", autouse=True)
def _crds(k8s_cluster: KubeCluster) -> None:
    support.install_crds(k8s_cluster)


@pytest.fixture(scope="module")
def brook(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrookProcess]:
    with start_brook(tmp_path_factory.mktemp("e2e-brook")) as process:
        yield process


@pytest.fixture
def operator(
    k8s_cluster: KubeCluster, namespace: str, brook: BrookProcess
) -> Iterator[support.OperatorProcess]:
    with support.running_operator(
        k8s_cluster, namespace=namespace, overrides={"*/demo": brook.bootstrap}
    ) as process:
        k8s_cluster.apply(support.kafkacluster("demo"), namespace=namespace)
        yield process


def _kafka(brook: BrookProcess) -> admin.KafkaAdmin:
    return admin.KafkaAdmin(bootstrap_servers=brook.bootstrap)


def _describe(brook: BrookProcess, name: str) -> admin.TopicDescription | None:
    async def go() -> admin.TopicDescription | None:
        async with _kafka(brook) as kafka:
            return await kafka.describe_topic(name)

    return asyncio.run(go())


def _config(brook: BrookProcess, name: str) -> dict[str, admin.ConfigEntry]:
    async def go() -> dict[str, admin.ConfigEntry]:
        async with _kafka(brook) as kafka:
            return await kafka.describe_topic_config(name)

    return asyncio.run(go())


def _ready(
    cluster: KubeCluster,
    operator: support.OperatorProcess,
    namespace: str,
    name: str,
    *,
    status: str = "True",
    reason: str | None = None,
) -> JsonObject:
    return support.wait_for_condition(
        cluster, operator, namespace=namespace, plural="topics", name=name, status=status, reason=reason
    )


def test_topic_lifecycle(
    k8s_cluster: KubeCluster, namespace: str, brook: BrookProcess, operator: support.OperatorProcess
) -> None:
    name = f"orders-{namespace}"
    k8s_cluster.apply(
        support.topic(
            "orders", cluster="demo", topicName=name, partitions=2, config={"retention.ms": 3600000}
        ),
        namespace=namespace,
    )
    body = _ready(k8s_cluster, operator, namespace, "orders")
    assert body["status"]["topicName"] == name and body["status"]["partitions"] == 2
    assert _describe(brook, name) == admin.TopicDescription(name, 2, 1)
    assert _config(brook, name)["retention.ms"].value == "3600000"
    finalizers = body["metadata"]["finalizers"]
    assert finalizers == ["brook.dev/finalizer"]
    table = k8s_cluster.kubectl("get", "topics", f"--namespace={namespace}").stdout.splitlines()
    assert table[0].split()[:6] == ["NAME", "CLUSTER", "PARTITIONS", "RF", "READY", "REASON"]
    assert table[1].split()[:6] == ["orders", "demo", "2", "1", "True", "Ready"]

    # Grow partitions and change config.
    k8s_cluster.apply(
        support.topic(
            "orders", cluster="demo", topicName=name, partitions=4, config={"cleanup.policy": "compact"}
        ),
        namespace=namespace,
    )
    _ready(k8s_cluster, operator, namespace, "orders")
    assert _describe(brook, name) == admin.TopicDescription(name, 4, 1)
    config = _config(brook, name)
    assert config["cleanup.policy"].value == "compact" and not config["retention.ms"].set_on_topic

    # Fewer partitions: refused, nothing changes in Kafka.
    k8s_cluster.apply(
        support.topic(
            "orders", cluster="demo", topicName=name, partitions=1, config={"cleanup.policy": "compact"}
        ),
        namespace=namespace,
    )
    body = _ready(k8s_cluster, operator, namespace, "orders", status="False", reason="NotSupported")
    assert "decreasing partitions (4 -> 1) is not supported" in support.condition(body, "Ready")["message"]
    assert support.condition(body, "Stalled")["status"] == "True"
    assert _describe(brook, name) == admin.TopicDescription(name, 4, 1)

    # Deleting the Topic deletes the topic (through the finalizer).
    k8s_cluster.kubectl("delete", "topic/orders", f"--namespace={namespace}", "--wait=true", timeout=60)
    assert _describe(brook, name) is None


def test_out_of_band_changes_are_reverted_and_reported(
    k8s_cluster: KubeCluster, namespace: str, brook: BrookProcess, operator: support.OperatorProcess
) -> None:
    name = f"audit-{namespace}"
    k8s_cluster.apply(
        support.topic("audit", cluster="demo", topicName=name, config={"retention.ms": 60000}),
        namespace=namespace,
    )
    _ready(k8s_cluster, operator, namespace, "audit")

    async def tamper() -> None:
        async with _kafka(brook) as kafka:
            await kafka.alter_topic_config(name=name, set_values={"retention.ms": "1"}, delete=[])

    asyncio.run(tamper())

    def reverted() -> JsonObject | None:
        body = support.get_cr(k8s_cluster, namespace, "topics", "audit")
        drift = (body or {}).get("status", {}).get("lastDrift")
        return body if drift and _config(brook, name)["retention.ms"].value == "60000" else None

    body = k8s_cluster.wait_for(reverted, timeout=30, what="the drift to be reverted", interval=0.5)
    assert body["status"]["lastDrift"]["changes"] == [
        {"field": "retention.ms", "kafkaValue": "1", "specValue": "60000"}
    ]
    assert "DriftReverted" in {r for _, r, _ in support.events_for(k8s_cluster, namespace, "audit")}


def test_existing_topic_is_adopted_and_unmanage_leaves_it(
    k8s_cluster: KubeCluster, namespace: str, brook: BrookProcess, operator: support.OperatorProcess
) -> None:
    name = f"legacy-{namespace}"

    async def create() -> None:
        async with _kafka(brook) as kafka:
            await kafka.create_topic(name=name, partitions=3, replication_factor=1, config={})

    asyncio.run(create())
    k8s_cluster.apply(
        support.topic("legacy", cluster="demo", topicName=name, partitions=3), namespace=namespace
    )
    _ready(k8s_cluster, operator, namespace, "legacy")
    assert "Adopted" in {r for _, r, _ in support.events_for(k8s_cluster, namespace, "legacy")}

    k8s_cluster.kubectl("annotate", "topic/legacy", "brook.dev/managed=false", f"--namespace={namespace}")
    body = _ready(k8s_cluster, operator, namespace, "legacy", status="Unknown", reason="Unmanaged")
    k8s_cluster.wait_for(
        lambda: (
            not (support.get_cr(k8s_cluster, namespace, "topics", "legacy") or {})
            .get("metadata", {})
            .get("finalizers")
            or None
        ),
        timeout=30,
        what="the finalizer to be removed",
    )
    assert body["status"]["topicName"] == name
    k8s_cluster.kubectl("delete", "topic/legacy", f"--namespace={namespace}", "--wait=true", timeout=30)
    assert _describe(brook, name) == admin.TopicDescription(name, 3, 1), "an unmanaged topic is left alone"


def test_missing_cluster_is_reported(
    k8s_cluster: KubeCluster, namespace: str, operator: support.OperatorProcess
) -> None:
    k8s_cluster.apply(support.topic("lost", cluster="nowhere"), namespace=namespace)
    body = _ready(k8s_cluster, operator, namespace, "lost", status="False", reason="ClusterNotFound")
    assert "KafkaCluster nowhere not found" in support.condition(body, "Ready")["message"]


def test_namespace_deletion_is_not_blocked(
    k8s_cluster: KubeCluster, brook: BrookProcess, tmp_path: Path
) -> None:
    """Topics with finalizers, their cluster and the namespace deleted together: the namespace goes."""
    namespace = k8s_cluster.create_namespace("ns-delete")
    try:
        with support.running_operator(
            k8s_cluster, namespace=namespace, overrides={"*/demo": brook.bootstrap}
        ) as operator:
            k8s_cluster.apply(support.kafkacluster("demo"), namespace=namespace)
            for i in range(3):
                k8s_cluster.apply(
                    support.topic(f"t{i}", cluster="demo", topicName=f"gone-{i}-{namespace}"),
                    namespace=namespace,
                )
            for i in range(3):
                _ready(k8s_cluster, operator, namespace, f"t{i}")
            k8s_cluster.delete_namespace(namespace, timeout=60)
    finally:
        if k8s_cluster.api.exists(f"/api/v1/namespaces/{namespace}"):
            k8s_cluster.delete_namespace(namespace, timeout=60)
