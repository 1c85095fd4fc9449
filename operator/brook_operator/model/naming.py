"""Names, labels and owner references of everything the operator creates for one KafkaCluster.

Every builder in `model/` takes a `ClusterIdentity`; the names here are the only place where object
names are spelled, so the reconciler, the docs and the tests agree on them.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from brook_operator.api.common import API_VERSION, GROUP

FIELD_MANAGER = "brook-operator"
MANAGED_BY = "brook-operator"
CLUSTER_LABEL = f"{GROUP}/cluster"


@dataclasses.dataclass(frozen=True)
class ClusterIdentity:
    """Who a KafkaCluster is: enough to name and own the objects built for it."""

    name: str
    namespace: str
    uid: str
    cluster_domain: str = "cluster.local"

    @property
    def config_map(self) -> str:
        return f"{self.name}-config"

    @property
    def statefulset(self) -> str:
        return f"{self.name}-broker"

    @property
    def headless_service(self) -> str:
        return f"{self.name}-brokers"

    @property
    def bootstrap_service(self) -> str:
        return f"{self.name}-bootstrap"

    @property
    def external_bootstrap_service(self) -> str:
        return f"{self.name}-external-bootstrap"

    @property
    def pdb(self) -> str:
        return f"{self.name}-broker"

    def pod(self, ordinal: int) -> str:
        return f"{self.statefulset}-{ordinal}"

    def external_service(self, ordinal: int) -> str:
        return f"{self.pod(ordinal)}-external"

    def pod_host(self, ordinal: int) -> str:
        """The stable DNS name of broker `ordinal` (through the headless Service)."""
        return f"{self.pod(ordinal)}.{self.headless_service}.{self.namespace}.svc.{self.cluster_domain}"

    @property
    def bootstrap_host(self) -> str:
        return f"{self.bootstrap_service}.{self.namespace}.svc.{self.cluster_domain}"


def selector_labels(cluster: ClusterIdentity) -> dict[str, str]:
    """Labels that select the broker pods; never change (StatefulSet selectors are immutable)."""
    return {
        "app.kubernetes.io/name": "brook",
        "app.kubernetes.io/instance": cluster.name,
        "app.kubernetes.io/component": "broker",
    }


def labels(cluster: ClusterIdentity, *, version: str) -> dict[str, str]:
    """Kubernetes' recommended labels plus `brook.dev/cluster`, on every object built here."""
    return {
        **selector_labels(cluster),
        "app.kubernetes.io/part-of": "brook",
        "app.kubernetes.io/managed-by": MANAGED_BY,
        "app.kubernetes.io/version": version,
        CLUSTER_LABEL: cluster.name,
    }


def owner_reference(cluster: ClusterIdentity) -> dict[str, Any]:
    """The KafkaCluster as controller owner: deleting it garbage-collects what it owns."""
    return {
        "apiVersion": API_VERSION,
        "kind": "KafkaCluster",
        "name": cluster.name,
        "uid": cluster.uid,
        "controller": True,
        "blockOwnerDeletion": True,
    }


def metadata(
    cluster: ClusterIdentity, *, name: str, version: str, annotations: dict[str, str] | None = None
) -> dict[str, Any]:
    """Object metadata for a namespaced object owned by the cluster."""
    meta: dict[str, Any] = {
        "name": name,
        "namespace": cluster.namespace,
        "labels": labels(cluster, version=version),
        "ownerReferences": [owner_reference(cluster)],
    }
    if annotations:
        meta["annotations"] = dict(annotations)
    return meta
