"""HA: two operator replicas with kopf peering; one acts, and the standby takes over when it dies."""

from __future__ import annotations

import os
import signal
from typing import Any

import pytest

from e2e import operator_support as support
from e2e.testing import KubeCluster

pytestmark = pytest.mark.e2e
PEERING = "brook-operator"


@pytest.fixture(scope="module", autouse=True)
def _crds(k8s_cluster: KubeCluster) -> None:
    support.install_crds(k8s_cluster)
    k8s_cluster.kubectl(
        "apply", "--server-side", f"--filename={support.ROOT / 'charts/brook/crds/kopf-peering.yaml'}"
    )
    k8s_cluster.kubectl("wait", "--for=condition=Established", "crd/kopfpeerings.kopf.dev", "--timeout=60s")


def _peers(cluster: KubeCluster, namespace: str) -> dict[str, Any]:
    body = cluster.api.get(f"/apis/kopf.dev/v1/namespaces/{namespace}/kopfpeerings/{PEERING}")
    peers: dict[str, Any] = body.get("status") or {}
    return peers


def test_standby_takes_over_when_the_active_replica_dies(k8s_cluster: KubeCluster, namespace: str) -> None:
    k8s_cluster.apply(
        {"apiVersion": "kopf.dev/v1", "kind": "KopfPeering", "metadata": {"name": PEERING}},
        namespace=namespace,
    )
    replicas = [
        support.OperatorProcess(
            k8s_cluster, namespace=namespace, overrides={}, peering=PEERING, env={"POD_ID": f"replica-{i}"}
        ).start()
        for i in range(2)
    ]
    try:
        k8s_cluster.wait_for(
            lambda: len(_peers(k8s_cluster, namespace)) == 2 or None, timeout=60, what="two peers registered"
        )
        k8s_cluster.apply(support.kafkacluster("demo"), namespace=namespace)
        support.wait_for_condition(
            k8s_cluster, replicas[0], namespace=namespace, plural="kafkaclusters", name="demo", timeout=90
        )
        # The active replica is the one with the highest priority (peer ids are POD_ID, as in the chart).
        peers = _peers(k8s_cluster, namespace)
        active_id = max(peers, key=lambda peer: peers[peer]["priority"])
        active = replicas[int(active_id.removeprefix("replica-"))]
        standby = next(r for r in replicas if r is not active)
        assert active.proc is not None
        os.kill(active.proc.pid, signal.SIGKILL)
        active.proc.wait()
        # A change while only the standby lives: it resumes once the dead peer's record expires (60 s).
        k8s_cluster.apply(
            support.kafkacluster("demo", config={"log.retention.ms": 1000}), namespace=namespace
        )
        body = support.wait_for_condition(
            k8s_cluster, standby, namespace=namespace, plural="kafkaclusters", name="demo", timeout=150
        )
        assert body["status"]["observedGeneration"] == 2
        k8s_cluster.delete_namespace(namespace, timeout=90)
    finally:
        alive = [r for r in replicas if r.proc is not None and r.proc.poll() is None]
        if alive and k8s_cluster.api.exists(f"/api/v1/namespaces/{namespace}"):
            k8s_cluster.delete_namespace(namespace, timeout=150)
        for replica in replicas:
            replica.stop()
