"""Smoke tests of the e2e control plane itself: what the operator scenarios rely on works.

API server, controllers (Deployment/ReplicaSet, StatefulSet with claims, EndpointSlices, PDBs, garbage
collection, namespace deletion), scheduler + kwok (pods Ready on fake nodes, readiness switchable),
CRD validation, ServiceAccount tokens with RBAC, and offline ``helm template | kubeconform``.
"""

from __future__ import annotations

import importlib
import json
from pathlib import Path
from typing import Any

import pytest

from e2e import schemas, tools
from e2e.cluster import STORAGE_CLASS
from e2e.kubeapi import ApiError, is_condition_true
from e2e.testing import KubeCluster

pytestmark = pytest.mark.e2e

IMAGE = "registry.invalid/brook/never-pulled:1"  # kwok runs no containers: any name will do


def labels(app: str) -> dict[str, str]:
    return {"app.kubernetes.io/name": app}


def deployment(name: str, replicas: int) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels(name)},
            "template": {
                "metadata": {"labels": labels(name)},
                "spec": {"containers": [{"name": "main", "image": IMAGE}]},
            },
        },
    }


def test_api_server_answers(k8s_cluster: KubeCluster) -> None:
    version = k8s_cluster.api.get("/version")
    assert version["gitVersion"] == "v1.36.3"
    assert k8s_cluster.api.get("/readyz") == "ok"
    client = k8s_cluster.kubectl("version", "--output=json").stdout
    assert '"gitVersion": "v1.36.3"' in client
    nodes = k8s_cluster.kubectl_json("get", "nodes")["items"]
    assert {node["metadata"]["name"] for node in nodes} >= set(k8s_cluster.nodes)
    assert all(is_condition_true(node, "Ready") for node in nodes)


def test_configmap_round_trip(k8s_cluster: KubeCluster, namespace: str) -> None:
    k8s_cluster.apply(
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cfg"}, "data": {"node.id": "0"}},
        namespace=namespace,
    )
    stored = k8s_cluster.api.get(f"/api/v1/namespaces/{namespace}/configmaps/cfg")
    assert stored["data"] == {"node.id": "0"}


def test_deployment_pods_become_ready_and_are_garbage_collected(
    k8s_cluster: KubeCluster, namespace: str
) -> None:
    k8s_cluster.apply(deployment("web", 2), namespace=namespace)
    pods = k8s_cluster.wait_for_pods_ready(namespace, "app.kubernetes.io/name=web", count=2)
    assert {pod["spec"]["nodeName"] for pod in pods} <= set(k8s_cluster.nodes)
    assert all(pod["status"]["podIP"].startswith("10.244.") for pod in pods)
    k8s_cluster.wait_for(
        lambda: (
            k8s_cluster.api.get(f"/apis/apps/v1/namespaces/{namespace}/deployments/web")["status"].get(
                "availableReplicas"
            )
            == 2
        ),
        timeout=30,
        what="Deployment web availableReplicas=2",
    )
    # Foreground deletion: the garbage collector removes the ReplicaSet and its pods first.
    k8s_cluster.api.delete(
        f"/apis/apps/v1/namespaces/{namespace}/deployments/web", propagationPolicy="Foreground"
    )
    k8s_cluster.wait_for(
        lambda: (
            not k8s_cluster.pods(namespace, "app.kubernetes.io/name=web")
            and not k8s_cluster.api.items(f"/apis/apps/v1/namespaces/{namespace}/replicasets")
        ),
        timeout=60,
        what="ReplicaSet and pods of a deleted Deployment to be garbage-collected",
    )


def test_statefulset_with_claims_gets_ready_pods_and_bound_volumes(
    k8s_cluster: KubeCluster, namespace: str
) -> None:
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "kafka-headless"},
        "spec": {
            "clusterIP": "None",
            "selector": labels("kafka"),
            "ports": [{"name": "kafka", "port": 9092}],
        },
    }
    statefulset = {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {"name": "kafka"},
        "spec": {
            "serviceName": "kafka-headless",
            "replicas": 3,
            "podManagementPolicy": "Parallel",
            "selector": {"matchLabels": labels("kafka")},
            "template": {
                "metadata": {"labels": labels("kafka")},
                "spec": {
                    "containers": [
                        {
                            "name": "broker",
                            "image": IMAGE,
                            "ports": [{"name": "kafka", "containerPort": 9092}],
                            "volumeMounts": [{"name": "data", "mountPath": "/var/lib/brook"}],
                        }
                    ]
                },
            },
            # No storageClassName: the DefaultStorageClass admission plugin fills in kwok-volume.
            "volumeClaimTemplates": [
                {
                    "metadata": {"name": "data"},
                    "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}},
                }
            ],
        },
    }
    k8s_cluster.apply(service, statefulset, namespace=namespace)
    pods = k8s_cluster.wait_for_pods_ready(namespace, "app.kubernetes.io/name=kafka", count=3, timeout=90)
    assert sorted(pod["metadata"]["name"] for pod in pods) == ["kafka-0", "kafka-1", "kafka-2"]

    claims = k8s_cluster.api.items(f"/api/v1/namespaces/{namespace}/persistentvolumeclaims")
    assert sorted(claim["metadata"]["name"] for claim in claims) == [
        "data-kafka-0",
        "data-kafka-1",
        "data-kafka-2",
    ]
    assert {claim["spec"]["storageClassName"] for claim in claims} == {STORAGE_CLASS}
    assert {claim["status"]["phase"] for claim in claims} == {"Bound"}

    # The endpointslice controller publishes the ready pods behind the headless Service.
    def ready_endpoints() -> bool:
        slices = k8s_cluster.api.items(
            f"/apis/discovery.k8s.io/v1/namespaces/{namespace}/endpointslices",
            labelSelector="kubernetes.io/service-name=kafka-headless",
        )
        endpoints = [e for s in slices for e in s.get("endpoints") or [] if e["conditions"].get("ready")]
        return len(endpoints) == 3

    k8s_cluster.wait_for(ready_endpoints, timeout=30, what="3 ready endpoints for kafka-headless")

    # Scale down: pods go, claims stay (StatefulSet semantics); deleting a claim deletes its volume.
    k8s_cluster.api.patch(
        f"/apis/apps/v1/namespaces/{namespace}/statefulsets/kafka", {"spec": {"replicas": 1}}
    )
    k8s_cluster.wait_for_pods_ready(namespace, "app.kubernetes.io/name=kafka", count=1, timeout=60)
    volume = k8s_cluster.api.get(f"/api/v1/namespaces/{namespace}/persistentvolumeclaims/data-kafka-2")[
        "spec"
    ]["volumeName"]
    k8s_cluster.api.delete(f"/api/v1/namespaces/{namespace}/persistentvolumeclaims/data-kafka-2")
    k8s_cluster.wait_deleted(
        f"/api/v1/persistentvolumes/{volume}",
        timeout=60,
        what=f"PersistentVolume {volume} deleted after its claim",
    )


def test_pod_readiness_can_be_switched_off_and_on(k8s_cluster: KubeCluster, namespace: str) -> None:
    k8s_cluster.apply(deployment("probe", 1), namespace=namespace)
    (pod,) = k8s_cluster.wait_for_pods_ready(namespace, "app.kubernetes.io/name=probe", count=1)
    name = pod["metadata"]["name"]

    not_ready = k8s_cluster.set_pod_ready(namespace, name, ready=False)
    assert not_ready["status"]["phase"] == "Running"
    assert not not_ready["status"]["containerStatuses"][0]["ready"]
    k8s_cluster.wait_for(
        lambda: (
            k8s_cluster.api.get(f"/apis/apps/v1/namespaces/{namespace}/deployments/probe")["status"].get(
                "readyReplicas", 0
            )
            == 0
        ),
        timeout=30,
        what="Deployment probe readyReplicas=0",
    )
    k8s_cluster.set_pod_ready(namespace, name, ready=True)


def test_pod_disruption_budget_status_is_computed(k8s_cluster: KubeCluster, namespace: str) -> None:
    k8s_cluster.apply(
        deployment("pdb", 3),
        {
            "apiVersion": "policy/v1",
            "kind": "PodDisruptionBudget",
            "metadata": {"name": "pdb"},
            "spec": {"maxUnavailable": 1, "selector": {"matchLabels": labels("pdb")}},
        },
        namespace=namespace,
    )
    k8s_cluster.wait_for_pods_ready(namespace, "app.kubernetes.io/name=pdb", count=3)
    k8s_cluster.wait_for(
        lambda: (
            k8s_cluster.api.get(f"/apis/policy/v1/namespaces/{namespace}/poddisruptionbudgets/pdb")[
                "status"
            ].get("disruptionsAllowed")
            == 1
        ),
        timeout=30,
        what="PDB disruptionsAllowed=1",
    )


WIDGET_CRD: dict[str, Any] = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "widgets.e2e.brook.dev"},
    "spec": {
        "group": "e2e.brook.dev",
        "scope": "Namespaced",
        "names": {"plural": "widgets", "singular": "widget", "kind": "Widget", "listKind": "WidgetList"},
        "versions": [
            {
                "name": "v1alpha1",
                "served": True,
                "storage": True,
                "subresources": {"status": {}},
                "schema": {
                    "openAPIV3Schema": {
                        "type": "object",
                        "properties": {
                            "spec": {
                                "type": "object",
                                "required": ["replicas"],
                                "properties": {
                                    "replicas": {"type": "integer", "minimum": 1, "maximum": 5},
                                    "mode": {"type": "string", "enum": ["fast", "safe"], "default": "safe"},
                                },
                                "x-kubernetes-validations": [
                                    {
                                        "rule": "self.mode != 'fast' || self.replicas >= 3",
                                        "message": "fast mode needs at least 3 replicas",
                                    }
                                ],
                            },
                            "status": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                        },
                    }
                },
            }
        ],
    },
}


def widget(name: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "e2e.brook.dev/v1alpha1",
        "kind": "Widget",
        "metadata": {"name": name},
        "spec": spec,
    }


def test_crd_validates_custom_resources(k8s_cluster: KubeCluster, namespace: str) -> None:
    k8s_cluster.apply(WIDGET_CRD)
    k8s_cluster.wait_for(
        lambda: is_condition_true(
            k8s_cluster.api.get(
                f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{WIDGET_CRD['metadata']['name']}"
            ),
            "Established",
        ),
        timeout=30,
        what="CRD widgets.e2e.brook.dev Established",
    )
    path = f"/apis/e2e.brook.dev/v1alpha1/namespaces/{namespace}/widgets"
    # Discovery of a new group can lag behind Established for a moment.
    created = k8s_cluster.wait_for(
        lambda: k8s_cluster.api.create(path, widget("good", {"replicas": 2})),
        timeout=30,
        what="a valid Widget to be accepted",
    )
    assert created["spec"] == {"replicas": 2, "mode": "safe"}  # structural default applied

    with pytest.raises(ApiError) as rejected:
        k8s_cluster.api.create(path, widget("bad", {"replicas": 0}))
    assert rejected.value.status == 422
    assert "spec.replicas: Invalid value: 0: spec.replicas in body should be greater than or equal to 1" in (
        rejected.value.message
    )

    with pytest.raises(ApiError) as cel:
        k8s_cluster.api.create(path, widget("cel", {"replicas": 1, "mode": "fast"}))
    assert "fast mode needs at least 3 replicas" in cel.value.message

    # The same rejection through kubectl, as a user sees it.
    result = k8s_cluster.kubectl(
        "apply",
        f"--namespace={namespace}",
        "--filename=-",
        stdin=json.dumps(widget("bad", {"replicas": 9})),
        check=False,
    )
    assert result.returncode != 0
    assert "spec.replicas in body should be less than or equal to 5" in result.stderr

    # Status subresource: a spec update through it is ignored, a status update is kept.
    k8s_cluster.api.patch(f"{path}/good/status", {"status": {"phase": "Ready"}})
    assert k8s_cluster.api.get(f"{path}/good")["status"] == {"phase": "Ready"}


def test_namespace_deletion_finalizes(k8s_cluster: KubeCluster) -> None:
    name = k8s_cluster.create_namespace("doomed")
    k8s_cluster.apply(
        deployment("app", 1),
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cfg"}, "data": {"a": "b"}},
        namespace=name,
    )
    k8s_cluster.wait_for_pods_ready(name, count=1)
    k8s_cluster.delete_namespace(name, timeout=60)


def test_service_account_token_is_limited_by_rbac(k8s_cluster: KubeCluster, namespace: str) -> None:
    k8s_cluster.apply(
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "reader"}},
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "Role",
            "metadata": {"name": "configmap-reader"},
            "rules": [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "list"]}],
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": {"name": "reader"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "configmap-reader"},
            "subjects": [{"kind": "ServiceAccount", "name": "reader", "namespace": namespace}],
        },
        namespace=namespace,
    )
    kubeconfig = k8s_cluster.service_account_kubeconfig(namespace, "reader")
    allowed = k8s_cluster.kubectl(f"--kubeconfig={kubeconfig}", "get", "configmaps", "--output=name")
    assert "configmap/kube-root-ca.crt" in allowed.stdout  # published by root-ca-cert-publisher
    denied = k8s_cluster.kubectl(f"--kubeconfig={kubeconfig}", "get", "secrets", check=False)
    assert denied.returncode != 0
    assert f'User "system:serviceaccount:{namespace}:reader" cannot list resource "secrets"' in denied.stderr


def test_kubernetes_python_client(k8s_cluster: KubeCluster) -> None:
    client = importlib.import_module("kubernetes.client")
    with k8s_cluster.api_client() as api_client:
        nodes = client.CoreV1Api(api_client).list_node()
    assert {node.metadata.name for node in nodes.items} >= set(k8s_cluster.nodes)


CHART_YAML = """\
apiVersion: v2
name: smoke
version: 0.1.0
"""

CHART_TEMPLATE = """\
apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: {{ .Release.Name }}
spec:
  serviceName: {{ .Release.Name }}
  replicas: {{ .Values.replicas }}
  selector:
    matchLabels: {app: smoke}
  template:
    metadata:
      labels: {app: smoke}
    spec:
      containers:
        - name: main
          image: {{ .Values.image }}
          ports: [{containerPort: 9092, name: kafka}]
          resources:
            requests: {cpu: 1, memory: 1Gi}
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: {{ .Release.Name }}
spec:
  maxUnavailable: 1
  selector:
    matchLabels: {app: smoke}
"""


def write_chart(root: Path, template: str) -> Path:
    chart = root / "smoke"
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text(CHART_YAML, encoding="utf-8")
    (chart / "values.yaml").write_text(f"replicas: 3\nimage: {IMAGE}\n", encoding="utf-8")
    (chart / "templates" / "statefulset.yaml").write_text(template, encoding="utf-8")
    return chart


def test_helm_template_passes_kubeconform_offline(tmp_path: Path) -> None:
    chart = write_chart(tmp_path, CHART_TEMPLATE)
    tools.helm("lint", "--strict", str(chart))
    rendered = tools.helm("template", "smoke", str(chart))
    result = tools.kubeconform(rendered)
    assert "Valid: 2" in result.stdout, result.stdout


def test_kubeconform_strict_rejects_unknown_fields(tmp_path: Path) -> None:
    broken = CHART_TEMPLATE.replace("  serviceName:", "  servicename:")
    rendered = tools.helm("template", "smoke", str(write_chart(tmp_path, broken)))
    result = tools.kubeconform(rendered, check=False)
    assert result.returncode != 0
    assert "servicename" in result.stdout, result.stdout


def test_kubeconform_validates_custom_resources_with_crd_schemas(tmp_path: Path) -> None:
    crd_file = tmp_path / "widgets.json"
    crd_file.write_text(json.dumps(WIDGET_CRD), encoding="utf-8")
    schema_dir = tmp_path / "crd-schemas"
    assert schemas.crd_schemas([crd_file], schema_dir) == 1

    good = tools.kubeconform(json.dumps(widget("good", {"replicas": 2})), extra_schema_dirs=[schema_dir])
    assert "Valid: 1" in good.stdout, good.stdout
    bad = tools.kubeconform(
        json.dumps(widget("bad", {"replicas": 2, "colour": "red"})),
        extra_schema_dirs=[schema_dir],
        check=False,
    )
    assert bad.returncode != 0
    assert "additional properties 'colour' not allowed" in bad.stdout, bad.stdout
