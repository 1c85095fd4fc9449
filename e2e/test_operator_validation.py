"""Invalid Brook CRs are refused by the API server itself (schema + CEL rules), with readable messages."""

from __future__ import annotations

import json
import subprocess
from typing import Any

import pytest
import yaml

from e2e import operator_support as support
from e2e.testing import KubeCluster

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module", autouse=True)
def _crds(k8s_cluster: KubeCluster) -> None:
    support.install_crds(k8s_cluster)


def _refused(cluster: KubeCluster, namespace: str, obj: dict[str, Any]) -> str:
    with pytest.raises(subprocess.CalledProcessError) as refused:
        cluster.apply(obj, namespace=namespace)
    return str(refused.value.stderr)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (
            {"config": {"node.id": 3}},
            "broker config key node.id is managed by the operator and cannot be set",
        ),
        ({"config": {"log.dirs": "/tmp"}}, "broker config key log.dirs is managed by the operator"),
        (
            {"replicas": 0},
            "spec.replicas: Invalid value: 0: spec.replicas in body should be greater than or equal to 1",
        ),
        ({"listeners": {"external": {"type": "Ingress"}}}, 'Unsupported value: "Ingress"'),
        (
            {"listeners": {"external": {"type": "LoadBalancer", "nodePortBase": 31000}}},
            "nodePortBase is only valid with type NodePort",
        ),
        (
            {"listeners": {"internal": {"port": 9094}, "external": {"type": "NodePort"}}},
            "listeners.external.port must differ",
        ),
        ({"storage": {"size": "lots"}}, "spec.storage.size"),
        ({"brokers": 3}, 'unknown field "brokers"'),
        ({"config": {"auto.create.topics.enable": True}}, "must be of type integer,string"),
    ],
    ids=[
        "node.id",
        "log.dirs",
        "replicas-0",
        "listener-type",
        "nodeport-base",
        "same-port",
        "size",
        "unknown-field",
        "bare-boolean",
    ],
)
def test_invalid_kafkacluster_is_refused(
    k8s_cluster: KubeCluster, namespace: str, spec: dict[str, Any], message: str
) -> None:
    error = _refused(k8s_cluster, namespace, support.kafkacluster("bad", **spec))
    assert message in error, error


def test_defaults_are_applied_by_the_api_server(k8s_cluster: KubeCluster, namespace: str) -> None:
    (stored,) = k8s_cluster.apply(support.kafkacluster("defaults"), namespace=namespace)
    spec = stored["spec"]
    assert spec["replicas"] == 1 and spec["version"] == "0.1.0"
    assert spec["listeners"] == {"internal": {"port": 9092}}
    assert spec["storage"] == {"size": "10Gi", "deleteClaim": False}
    assert spec["podTemplate"]["terminationGracePeriodSeconds"] == 120


def test_immutable_fields(k8s_cluster: KubeCluster, namespace: str) -> None:
    k8s_cluster.apply(
        support.kafkacluster("imm", storage={"size": "10Gi", "storageClass": "standard"}), namespace=namespace
    )
    error = _refused(
        k8s_cluster,
        namespace,
        support.kafkacluster("imm", storage={"size": "20Gi", "storageClass": "standard"}),
    )
    assert "storage.size cannot be changed" in error
    error = _refused(
        k8s_cluster, namespace, support.kafkacluster("imm", storage={"size": "10Gi", "storageClass": "fast"})
    )
    assert "storageClass is immutable" in error

    k8s_cluster.apply(support.topic("orders", cluster="imm", topicName="orders.v1"), namespace=namespace)
    error = _refused(k8s_cluster, namespace, support.topic("orders", cluster="imm", topicName="orders.v2"))
    assert "topicName is immutable" in error
    error = _refused(k8s_cluster, namespace, support.topic("orders", cluster="other", topicName="orders.v1"))
    assert "clusterRef is immutable" in error


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"partitions": 0}, "spec.partitions in body should be greater than or equal to 1"),
        ({"topicName": "has spaces"}, "spec.topicName in body should match"),
    ],
)
def test_invalid_topic_is_refused(
    k8s_cluster: KubeCluster, namespace: str, spec: dict[str, Any], message: str
) -> None:
    error = _refused(k8s_cluster, namespace, support.topic("bad", cluster="c", **spec))
    assert message in error, error


def test_offset_reset_needs_its_strategy_argument(k8s_cluster: KubeCluster, namespace: str) -> None:
    group = support.consumergroup(
        "g", cluster="c", offsetReset={"requestId": "r1", "strategy": "datetime", "topics": ["t"]}
    )
    assert "strategy datetime needs datetime" in _refused(k8s_cluster, namespace, group)
    group["spec"]["offsetReset"]["strategy"] = "rewind"
    assert 'Unsupported value: "rewind"' in _refused(k8s_cluster, namespace, group)


def test_kubectl_explain_shows_field_docs(k8s_cluster: KubeCluster) -> None:
    explained = k8s_cluster.kubectl("explain", "kafkaclusters.spec.storage.deleteClaim").stdout
    assert "Delete the volumes when the KafkaCluster is deleted" in explained
    explained = k8s_cluster.kubectl("explain", "topics.spec.partitions").stdout
    assert "It can grow; Kafka cannot shrink a topic" in explained


def test_examples_are_accepted_by_the_api_server(k8s_cluster: KubeCluster) -> None:
    """Every Brook manifest in examples/ passes the real schema and CEL rules (server-side dry run)."""
    if not k8s_cluster.api.exists("/api/v1/namespaces/kafka"):
        k8s_cluster.api.create(
            "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "kafka"}}
        )
    documents = [
        doc
        for path in sorted((support.ROOT / "examples").rglob("*.yaml"))
        for doc in yaml.safe_load_all(path.read_text())
        if doc and doc.get("apiVersion") == "brook.dev/v1alpha1"
    ]
    assert len(documents) >= 6
    for doc in documents:
        doc.setdefault("metadata", {}).setdefault("namespace", "kafka")
        k8s_cluster.kubectl("apply", "--dry-run=server", "--filename=-", stdin=json.dumps(doc))
