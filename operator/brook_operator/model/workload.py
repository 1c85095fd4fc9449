"""The broker StatefulSet and its PodDisruptionBudget.

Design notes (why, not what):
- Pods run `start.sh` from the ConfigMap, which picks the per-broker config by ordinal.
- Readiness is a Kafka ApiVersions round trip (`probe.py`), so Ready means "answers Kafka requests";
  liveness is a TCP check, and a startup probe allows ten minutes of log recovery before liveness counts.
- `terminationGracePeriodSeconds` (default 120) gives the broker time to flush and close its logs after
  SIGTERM; Kubernetes' default of 30 s can cut a busy broker's shutdown short.
- The pod-template annotation `brook.dev/config-hash` rolls the pods when the rendered config changes.
- Pods run as a non-root user with a read-only root filesystem and no service-account token.
"""

from __future__ import annotations

from typing import Any

from brook_operator.api.common import GROUP
from brook_operator.api.kafkacluster import KafkaClusterSpec
from brook_operator.model import config, naming

CONTAINER = "broker"
BROKER_UID = 1000
CONFIG_HASH_ANNOTATION = f"{GROUP}/config-hash"


def _probes(spec: KafkaClusterSpec) -> dict[str, Any]:
    port = spec.listeners.internal.port
    return {
        "startupProbe": {"tcpSocket": {"port": port}, "periodSeconds": 5, "failureThreshold": 120},
        "livenessProbe": {
            "tcpSocket": {"port": port},
            "periodSeconds": 10,
            "timeoutSeconds": 5,
            "failureThreshold": 3,
        },
        "readinessProbe": {
            "exec": {"command": ["python3", f"{config.CONFIG_DIR}/probe.py", str(port)]},
            "periodSeconds": 5,
            "timeoutSeconds": 5,
            "failureThreshold": 3,
        },
    }


def _container(spec: KafkaClusterSpec, *, image: str) -> dict[str, Any]:
    ports = [{"name": "internal", "containerPort": spec.listeners.internal.port, "protocol": "TCP"}]
    if spec.listeners.external is not None:
        ports.append({"name": "external", "containerPort": spec.listeners.external.port, "protocol": "TCP"})
    env = [
        {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
        {"name": "POD_NAMESPACE", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
        {"name": "HOST_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.hostIP"}}},
    ]
    if spec.rack is not None:
        # Kubernetes copies the node's topology labels onto the pod when it binds it (PodTopologyLabels,
        # beta since 1.35); start.sh passes the value as broker.rack, and an absent label means no rack.
        env.append(
            {
                "name": "BROKER_RACK",
                "valueFrom": {"fieldRef": {"fieldPath": f"metadata.labels['{spec.rack.topology_key}']"}},
            }
        )
    container: dict[str, Any] = {
        "name": CONTAINER,
        "image": image,
        "command": ["/bin/sh", f"{config.CONFIG_DIR}/start.sh"],
        "ports": ports,
        "env": env,
        "volumeMounts": [
            {"name": "data", "mountPath": config.DATA_DIR},
            {"name": "config", "mountPath": config.CONFIG_DIR, "readOnly": True},
            {"name": "tmp", "mountPath": "/tmp"},
        ],
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "runAsNonRoot": True,
            "capabilities": {"drop": ["ALL"]},
        },
        **_probes(spec),
    }
    resources = spec.resources.to_body()
    if resources:
        container["resources"] = resources
    return container


def _pod_spec(cluster: naming.ClusterIdentity, spec: KafkaClusterSpec, *, image: str) -> dict[str, Any]:
    template = spec.pod_template
    pod: dict[str, Any] = {
        "automountServiceAccountToken": False,
        "terminationGracePeriodSeconds": template.termination_grace_period_seconds,
        "securityContext": {
            "runAsUser": BROKER_UID,
            "runAsGroup": BROKER_UID,
            "fsGroup": BROKER_UID,
            "runAsNonRoot": True,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "containers": [_container(spec, image=image)],
        "volumes": [
            {"name": "config", "configMap": {"name": cluster.config_map, "defaultMode": 0o444}},
            {"name": "tmp", "emptyDir": {}},
        ],
    }
    if template.affinity:
        pod["affinity"] = template.affinity
    if template.tolerations:
        pod["tolerations"] = list(template.tolerations)
    if template.node_selector:
        pod["nodeSelector"] = dict(template.node_selector)
    if template.priority_class_name:
        pod["priorityClassName"] = template.priority_class_name
    spread = list(template.topology_spread_constraints)
    # Rack awareness places brokers across the topology key; a user-given constraint on the same key wins.
    if spec.rack is not None and not any(c.get("topologyKey") == spec.rack.topology_key for c in spread):
        spread.append(
            {
                "maxSkew": 1,
                "topologyKey": spec.rack.topology_key,
                "whenUnsatisfiable": "ScheduleAnyway",
                "labelSelector": {"matchLabels": naming.selector_labels(cluster)},
            }
        )
    if spread:
        pod["topologySpreadConstraints"] = spread
    return pod


def _volume_claim(cluster: naming.ClusterIdentity, spec: KafkaClusterSpec) -> dict[str, Any]:
    claim_spec: dict[str, Any] = {
        "accessModes": ["ReadWriteOnce"],
        "resources": {"requests": {"storage": spec.storage.size}},
    }
    if spec.storage.storage_class is not None:
        claim_spec["storageClassName"] = spec.storage.storage_class
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": "data", "labels": naming.selector_labels(cluster)},
        "spec": claim_spec,
    }


def build_statefulset(
    cluster: naming.ClusterIdentity,
    spec: KafkaClusterSpec,
    *,
    image: str,
    config_hash: str,
) -> dict[str, Any]:
    """The broker StatefulSet: `spec.replicas` pods with stable names, DNS and volumes."""
    template = spec.pod_template
    pod_labels = {**template.labels, **naming.labels(cluster, version=spec.version)}
    pod_annotations = {**template.annotations, CONFIG_HASH_ANNOTATION: config_hash}
    return {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": naming.metadata(cluster, name=cluster.statefulset, version=spec.version),
        "spec": {
            "replicas": spec.replicas,
            "serviceName": cluster.headless_service,
            "selector": {"matchLabels": naming.selector_labels(cluster)},
            # Brokers of one cluster start together (a KRaft quorum needs its voters up at once).
            "podManagementPolicy": "Parallel",
            "updateStrategy": {"type": "RollingUpdate"},
            "persistentVolumeClaimRetentionPolicy": {
                "whenDeleted": "Delete" if spec.storage.delete_claim else "Retain",
                "whenScaled": "Retain",
            },
            "template": {
                "metadata": {"labels": pod_labels, "annotations": pod_annotations},
                "spec": _pod_spec(cluster, spec, image=image),
            },
            "volumeClaimTemplates": [_volume_claim(cluster, spec)],
        },
    }


def build_pod_disruption_budget(cluster: naming.ClusterIdentity, spec: KafkaClusterSpec) -> dict[str, Any]:
    """At most one broker voluntarily disrupted (drained, evicted) at a time."""
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": naming.metadata(cluster, name=cluster.pdb, version=spec.version),
        "spec": {"maxUnavailable": 1, "selector": {"matchLabels": naming.selector_labels(cluster)}},
    }
