"""KafkaCluster scenarios on a real control plane: objects, readiness, refusals, drift, restarts.

kwok runs no containers: broker pods become Ready when scheduled, and `set_pod_ready` plays the
readiness probe. What is real: the API server (schemas, CEL, SSA), the StatefulSet, EndpointSlice, GC
and namespace controllers, the scheduler, and the operator process itself.
"""

from __future__ import annotations

import time

import pytest

from e2e import operator_support as support
from e2e.kubeapi import JsonObject
from e2e.testing import KubeCluster

pytestmark = pytest.mark.e2e
SELECTOR = "app.kubernetes.io/name=brook,app.kubernetes.io/instance=demo,app.kubernetes.io/component=broker"


@pytest.fixture(scope="module", autouse=True)
def _crds(k8s_cluster: KubeCluster) -> None:
    support.install_crds(k8s_cluster)


def _ready_cluster(cluster: KubeCluster, operator: support.OperatorProcess, namespace: str) -> JsonObject:
    return support.wait_for_condition(
        cluster, operator, namespace=namespace, plural="kafkaclusters", name="demo", timeout=90
    )


def test_kafkacluster_becomes_ready_with_the_expected_objects(
    k8s_cluster: KubeCluster, namespace: str
) -> None:
    with support.running_operator(k8s_cluster, namespace=namespace, overrides={}) as operator:
        k8s_cluster.apply(support.kafkacluster("demo", config={"num.partitions": 3}), namespace=namespace)
        body = _ready_cluster(k8s_cluster, operator, namespace)
        status = body["status"]
        assert status["readyReplicas"] == 1 and status["observedGeneration"] == 1
        assert status["listeners"] == [
            {
                "name": "internal",
                "type": "ClusterIP",
                "bootstrapServers": f"demo-bootstrap.{namespace}.svc.cluster.local:9092",
            }
        ]
        assert support.condition(body, "Reconciling")["status"] == "False"
        assert support.condition(body, "Stalled")["status"] == "False"
        uid = body["metadata"]["uid"]
        api = k8s_cluster.api
        for path in (
            f"/api/v1/namespaces/{namespace}/services/demo-brokers",
            f"/api/v1/namespaces/{namespace}/services/demo-bootstrap",
            f"/api/v1/namespaces/{namespace}/configmaps/demo-config",
            f"/apis/apps/v1/namespaces/{namespace}/statefulsets/demo-broker",
            f"/apis/policy/v1/namespaces/{namespace}/poddisruptionbudgets/demo-broker",
        ):
            obj = api.get(path)
            assert obj["metadata"]["ownerReferences"][0]["uid"] == uid, path
            assert obj["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "brook-operator"
            managers = {m["manager"] for m in obj["metadata"]["managedFields"]}
            assert "brook-operator" in managers, (path, managers)
        config = api.get(f"/api/v1/namespaces/{namespace}/configmaps/demo-config")["data"]
        assert "num.partitions=3" in config["server.properties"]
        assert "node.id=0" in config["broker-0.properties"]
        (pod,) = k8s_cluster.pods(namespace, SELECTOR)
        assert pod["metadata"]["name"] == "demo-broker-0"
        assert pod["spec"]["containers"][0]["readinessProbe"]["exec"]["command"][1] == "/etc/brook/probe.py"
        claim = api.get(f"/api/v1/namespaces/{namespace}/persistentvolumeclaims/data-demo-broker-0")
        assert claim["status"]["phase"] == "Bound"
        reasons = {reason for _, reason, _ in support.events_for(k8s_cluster, namespace, "demo")}
        assert {"Created", "Ready"} <= reasons
        table = k8s_cluster.kubectl("get", "kafkaclusters", f"--namespace={namespace}").stdout
        header, row = table.splitlines()[:2]
        assert header.split()[:6] == ["NAME", "READY", "REASON", "REPLICAS", "READY-REPLICAS", "VERSION"]
        assert row.split()[:6] == ["demo", "True", "Ready", "1", "1", "0.1.0"]


def test_readiness_follows_the_broker_pods(k8s_cluster: KubeCluster, namespace: str) -> None:
    with support.running_operator(k8s_cluster, namespace=namespace, overrides={}) as operator:
        k8s_cluster.apply(support.kafkacluster("demo"), namespace=namespace)
        _ready_cluster(k8s_cluster, operator, namespace)
        k8s_cluster.set_pod_ready(namespace, "demo-broker-0", False)
        body = support.wait_for_condition(
            k8s_cluster,
            operator,
            namespace=namespace,
            plural="kafkaclusters",
            name="demo",
            status="False",
            reason="BrokersNotReady",
            timeout=30,
        )
        assert support.condition(body, "Reconciling")["status"] == "True"
        k8s_cluster.set_pod_ready(namespace, "demo-broker-0", True)
        _ready_cluster(k8s_cluster, operator, namespace)


def test_more_replicas_are_refused_and_nothing_changes(k8s_cluster: KubeCluster, namespace: str) -> None:
    with support.running_operator(k8s_cluster, namespace=namespace, overrides={}) as operator:
        k8s_cluster.apply(support.kafkacluster("demo"), namespace=namespace)
        _ready_cluster(k8s_cluster, operator, namespace)
        k8s_cluster.kubectl("scale", "kafkacluster/demo", "--replicas=3", f"--namespace={namespace}")
        body = support.wait_for_condition(
            k8s_cluster,
            operator,
            namespace=namespace,
            plural="kafkaclusters",
            name="demo",
            status="False",
            reason="ReplicasNotSupported",
            timeout=30,
        )
        assert support.condition(body, "Stalled")["status"] == "True"
        assert "replicas: 3 is not supported yet" in support.condition(body, "Ready")["message"]
        sts = k8s_cluster.api.get(f"/apis/apps/v1/namespaces/{namespace}/statefulsets/demo-broker")
        assert sts["spec"]["replicas"] == 1
        assert len(k8s_cluster.pods(namespace, SELECTOR)) == 1
        warnings = [
            (t, r) for t, r, _ in support.events_for(k8s_cluster, namespace, "demo") if t == "Warning"
        ]
        assert ("Warning", "ReplicasNotSupported") in warnings


def test_deleted_objects_are_restored_by_the_resync(k8s_cluster: KubeCluster, namespace: str) -> None:
    with support.running_operator(k8s_cluster, namespace=namespace, overrides={}) as operator:
        k8s_cluster.apply(support.kafkacluster("demo"), namespace=namespace)
        _ready_cluster(k8s_cluster, operator, namespace)
        k8s_cluster.api.delete(f"/api/v1/namespaces/{namespace}/services/demo-bootstrap")
        k8s_cluster.api.patch(
            f"/api/v1/namespaces/{namespace}/configmaps/demo-config",
            {"data": {"server.properties": "tampered\n"}},
        )
        k8s_cluster.wait_for(
            lambda: k8s_cluster.api.exists(f"/api/v1/namespaces/{namespace}/services/demo-bootstrap") or None,
            timeout=30,
            what="the bootstrap Service to be re-created",
        )
        k8s_cluster.wait_for(
            lambda: (
                "tampered"
                not in k8s_cluster.api.get(f"/api/v1/namespaces/{namespace}/configmaps/demo-config")["data"][
                    "server.properties"
                ]
                or None
            ),
            timeout=30,
            what="the ConfigMap to be restored",
        )


def test_external_nodeport_listener(k8s_cluster: KubeCluster, namespace: str) -> None:
    external = {"external": {"type": "NodePort", "nodePortBase": 31100}}
    with support.running_operator(k8s_cluster, namespace=namespace, overrides={}) as operator:
        k8s_cluster.apply(support.kafkacluster("demo", listeners=external), namespace=namespace)
        body = _ready_cluster(k8s_cluster, operator, namespace)
        listeners = {entry["name"]: entry for entry in body["status"]["listeners"]}
        assert listeners["external"]["type"] == "NodePort"
        assert listeners["external"]["bootstrapServers"].endswith(":31100")
        service = k8s_cluster.api.get(f"/api/v1/namespaces/{namespace}/services/demo-broker-0-external")
        assert service["spec"]["ports"][0]["nodePort"] == 31101
        config = k8s_cluster.api.get(f"/api/v1/namespaces/{namespace}/configmaps/demo-config")["data"]
        assert "EXTERNAL://@HOST_IP@:31101" in config["broker-0.properties"]
        # Removing the external listener deletes its Services.
        k8s_cluster.apply(support.kafkacluster("demo"), namespace=namespace)
        support.wait_for_condition(
            k8s_cluster, operator, namespace=namespace, plural="kafkaclusters", name="demo", timeout=60
        )
        k8s_cluster.wait_deleted(
            f"/api/v1/namespaces/{namespace}/services/demo-broker-0-external",
            timeout=30,
            what="the external Service to be deleted",
        )


def test_operator_restarted_mid_reconcile_converges(k8s_cluster: KubeCluster, namespace: str) -> None:
    operator = support.OperatorProcess(k8s_cluster, namespace=namespace, overrides={}).start()
    try:
        k8s_cluster.apply(support.kafkacluster("demo"), namespace=namespace)
        # Kill -9 as soon as the operator is building (ConfigMap there, rollout not finished).
        k8s_cluster.wait_for(
            lambda: k8s_cluster.api.exists(f"/api/v1/namespaces/{namespace}/configmaps/demo-config") or None,
            timeout=60,
            what="the operator to start reconciling",
            interval=0.05,
        )
        operator.stop(kill=True)
        # Changed while no operator runs: a new generation the restarted operator must pick up.
        k8s_cluster.apply(
            support.kafkacluster("demo", config={"log.retention.ms": 1000}), namespace=namespace
        )
        time.sleep(1)
        operator.start()
        body = support.wait_for_condition(
            k8s_cluster, operator, namespace=namespace, plural="kafkaclusters", name="demo", timeout=90
        )
        assert body["status"]["observedGeneration"] == 2
        config = k8s_cluster.api.get(f"/api/v1/namespaces/{namespace}/configmaps/demo-config")["data"]
        assert "log.retention.ms=1000" in config["server.properties"]
        k8s_cluster.delete_namespace(namespace, timeout=90)
    finally:
        operator.stop()


def test_deleting_the_cluster_garbage_collects_its_objects(k8s_cluster: KubeCluster, namespace: str) -> None:
    with support.running_operator(k8s_cluster, namespace=namespace, overrides={}) as operator:
        k8s_cluster.apply(
            support.kafkacluster("demo", storage={"size": "1Gi", "deleteClaim": True}), namespace=namespace
        )
        _ready_cluster(k8s_cluster, operator, namespace)
        k8s_cluster.kubectl(
            "delete", "kafkacluster/demo", f"--namespace={namespace}", "--wait=true", timeout=60
        )
        for path in (
            f"/apis/apps/v1/namespaces/{namespace}/statefulsets/demo-broker",
            f"/api/v1/namespaces/{namespace}/services/demo-bootstrap",
            f"/api/v1/namespaces/{namespace}/persistentvolumeclaims/data-demo-broker-0",
        ):
            k8s_cluster.wait_deleted(path, timeout=60)


def test_external_loadbalancer_listener_waits_for_addresses(k8s_cluster: KubeCluster, namespace: str) -> None:
    """No cloud controller here: the test plays one by writing the load balancers' ingress addresses."""
    external = {"external": {"type": "LoadBalancer", "annotations": {"lb.example/internal": "true"}}}
    with support.running_operator(k8s_cluster, namespace=namespace, overrides={}) as operator:
        k8s_cluster.apply(support.kafkacluster("demo", listeners=external), namespace=namespace)
        support.wait_for_condition(
            k8s_cluster,
            operator,
            namespace=namespace,
            plural="kafkaclusters",
            name="demo",
            status="False",
            reason="ExternalAddressPending",
            timeout=60,
        )
        for name, ip in (
            ("demo-external-bootstrap", "203.0.113.10"),
            ("demo-broker-0-external", "203.0.113.11"),
        ):
            path = f"/api/v1/namespaces/{namespace}/services/{name}"
            assert k8s_cluster.api.get(path)["metadata"]["annotations"] == {"lb.example/internal": "true"}
            k8s_cluster.api.patch(f"{path}/status", {"status": {"loadBalancer": {"ingress": [{"ip": ip}]}}})
        body = _ready_cluster(k8s_cluster, operator, namespace)
        listeners = {entry["name"]: entry for entry in body["status"]["listeners"]}
        assert listeners["external"] == {
            "name": "external",
            "type": "LoadBalancer",
            "bootstrapServers": "203.0.113.10:9094",
        }
        config = k8s_cluster.api.get(f"/api/v1/namespaces/{namespace}/configmaps/demo-config")["data"]
        assert "EXTERNAL://203.0.113.11:9094" in config["broker-0.properties"]
