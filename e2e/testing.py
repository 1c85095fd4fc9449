"""What e2e tests get from the ``k8s_cluster`` fixture: a handle on the running control plane.

``KubeCluster`` wraps a ``cluster.ControlPlane`` with the calls scenarios need: kubectl, apply,
namespaces, waiting for pods, flipping a fake pod's readiness, kubeconfigs for ServiceAccounts (to
run the operator with exactly the chart's RBAC), and the ``kubernetes`` client when it is installed.
"""

from __future__ import annotations

import importlib
import json
import re
import secrets
import subprocess
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from e2e import tools
from e2e.cluster import READY_ANNOTATION, ControlPlane, node_schedulable
from e2e.kubeapi import ApiError, JsonObject, KubeApi, is_condition_true, wait_for
from e2e.pki import kubeconfig, write_kubeconfig

T = TypeVar("T")


@dataclass(slots=True)
class KubeCluster:
    """A running control plane with fake nodes. All waits are bounded and say what they waited for."""

    plane: ControlPlane

    @property
    def kubeconfig(self) -> Path:
        """Admin kubeconfig (bearer token, group system:masters; CA file, no insecure-skip)."""
        return self.plane.kubeconfig

    @property
    def server(self) -> str:
        return self.plane.server

    @property
    def token(self) -> str:
        return self.plane.token

    @property
    def ca_file(self) -> Path:
        return self.plane.ca_file

    @property
    def work_dir(self) -> Path:
        return self.plane.work_dir

    @property
    def api(self) -> KubeApi:
        return self.plane.api

    @property
    def nodes(self) -> list[str]:
        return list(self.plane.nodes)

    def log(self, component: str) -> Path:
        """Log file of etcd, kube-apiserver, kube-controller-manager, kube-scheduler or kwok."""
        return self.plane.log(component)

    def env(self) -> dict[str, str]:
        """Environment for a subprocess (e.g. the operator) that should talk to this cluster."""
        return {"KUBECONFIG": str(self.kubeconfig)}

    # --- kubectl / helm ------------------------------------------------------------------------------
    def kubectl(
        self, *args: str, stdin: str | None = None, check: bool = True, timeout: float = 60.0
    ) -> subprocess.CompletedProcess[str]:
        return self.plane.kubectl(*args, stdin=stdin, check=check, timeout=timeout)

    def kubectl_json(self, *args: str, timeout: float = 60.0) -> Any:
        return json.loads(self.kubectl(*args, "--output=json", timeout=timeout).stdout)

    def apply(
        self, *objects: Mapping[str, Any], namespace: str | None = None, server_side: bool = False
    ) -> list[JsonObject]:
        """``kubectl apply`` the given objects (dicts); returns what the API server stored."""
        document = {"apiVersion": "v1", "kind": "List", "items": [dict(obj) for obj in objects]}
        args = ["apply", "--filename=-", "--output=json"]
        if namespace:
            args.append(f"--namespace={namespace}")
        if server_side:
            args += ["--server-side", "--field-manager=brook-e2e"]
        result = json.loads(self.kubectl(*args, stdin=json.dumps(document)).stdout)
        items: list[JsonObject] = result.get("items", [result])
        return items

    def helm(self, *args: str, check: bool = True, timeout: float = 180.0) -> str:
        """``helm`` against this cluster (KUBECONFIG set; private helm homes)."""
        return tools.helm(*args, kubeconfig=self.kubeconfig, check=check, timeout=timeout)

    def api_client(self) -> Any:
        """A ``kubernetes.client.ApiClient`` for this cluster (needs the ``kubernetes`` package)."""
        try:
            client = importlib.import_module("kubernetes.client")
        except ImportError as error:
            raise RuntimeError(
                "the `kubernetes` package is not installed in this environment "
                "(it belongs in the project's dev dependencies); use kubectl() or api meanwhile"
            ) from error
        configuration = client.Configuration()
        configuration.host = self.server
        configuration.api_key = {"authorization": self.token}
        configuration.api_key_prefix = {"authorization": "Bearer"}
        configuration.ssl_ca_cert = str(self.ca_file)
        return client.ApiClient(configuration)

    # --- namespaces ----------------------------------------------------------------------------------
    def create_namespace(self, prefix: str = "e2e", *, labels: Mapping[str, str] | None = None) -> str:
        """A fresh namespace whose ``default`` ServiceAccount exists (so pods are admitted)."""
        base = re.sub(r"[^a-z0-9-]+", "-", prefix.lower()).strip("-")[:50] or "e2e"
        name = f"{base}-{secrets.token_hex(3)}"
        self.api.create(
            "/api/v1/namespaces",
            {
                "apiVersion": "v1",
                "kind": "Namespace",
                "metadata": {"name": name, "labels": dict(labels or {})},
            },
        )
        wait_for(
            lambda: self.api.exists(f"/api/v1/namespaces/{name}/serviceaccounts/default"),
            timeout=30,
            what=f"ServiceAccount {name}/default",
        )
        return name

    def delete_namespace(self, name: str, *, timeout: float = 60.0) -> None:
        """Delete and wait until it is gone; on timeout the error shows what is still blocking it."""
        self.api.delete(f"/api/v1/namespaces/{name}")
        wait_for(
            lambda: not self.api.exists(f"/api/v1/namespaces/{name}"),
            timeout=timeout,
            what=f"namespace {name} to be deleted",
            describe=lambda: json.dumps(self.api.get(f"/api/v1/namespaces/{name}").get("status")),
        )

    def wait_deleted(self, path: str, *, timeout: float, what: str | None = None) -> None:
        """Wait until the object at ``path`` is gone (after a delete, GC or a controller's cleanup)."""
        wait_for(lambda: not self.api.exists(path), timeout=timeout, what=what or f"{path} to be deleted")

    # --- pods ----------------------------------------------------------------------------------------
    def pods(self, namespace: str, selector: str = "") -> list[JsonObject]:
        query = {"labelSelector": selector} if selector else {}
        return self.api.items(f"/api/v1/namespaces/{namespace}/pods", **query)

    def wait_for_pods_ready(
        self, namespace: str, selector: str = "", *, count: int, timeout: float = 60.0
    ) -> list[JsonObject]:
        """Exactly ``count`` pods match and all are Ready (kwok makes scheduled pods Ready)."""

        def probe() -> list[JsonObject] | None:
            pods = self.pods(namespace, selector)
            ready = [pod for pod in pods if is_condition_true(pod, "Ready")]
            return pods if len(pods) == count and len(ready) == count else None

        return wait_for(
            probe,
            timeout=timeout,
            what=f"{count} Ready pods in {namespace} matching {selector!r}",
            describe=lambda: summarize_pods(self.pods(namespace, selector)),
        )

    def set_pod_ready(self, namespace: str, name: str, ready: bool, *, timeout: float = 30.0) -> JsonObject:
        """Make a fake pod (not) Ready, as a readiness probe would; waits until kwok has done it.

        Sets or removes the ``e2e.brook.dev/ready=false`` annotation that e2e/kwok/stages.yaml acts on.
        """
        value = None if ready else "false"
        self.api.patch(
            f"/api/v1/namespaces/{namespace}/pods/{name}",
            {"metadata": {"annotations": {READY_ANNOTATION: value}}},
        )
        return wait_for(
            lambda: _pod_if(self.api.get(f"/api/v1/namespaces/{namespace}/pods/{name}"), ready=ready),
            timeout=timeout,
            what=f"pod {namespace}/{name} Ready={ready}",
        )

    # --- identities ----------------------------------------------------------------------------------
    def service_account_kubeconfig(self, namespace: str, name: str, *, seconds: int = 3600) -> Path:
        """A kubeconfig that authenticates as a ServiceAccount (TokenRequest API), for RBAC tests."""
        answer = self.api.create(
            f"/api/v1/namespaces/{namespace}/serviceaccounts/{name}/token",
            {
                "apiVersion": "authentication.k8s.io/v1",
                "kind": "TokenRequest",
                "spec": {"expirationSeconds": seconds},
            },
        )
        config = kubeconfig(
            server=self.server,
            ca_file=self.ca_file,
            user=f"{namespace}-{name}",
            token=answer["status"]["token"],
            namespace=namespace,
        )
        return write_kubeconfig(self.work_dir / "kubeconfigs" / f"{namespace}-{name}.json", config)

    def add_node(self, name: str, *, zone: str = "zone-a", labels: Mapping[str, str] | None = None) -> None:
        """Another fake node; returns when it is Ready and untainted."""
        self.plane.add_node(name, zone=zone, labels=labels)
        wait_for(
            lambda: node_schedulable(self.api.get(f"/api/v1/nodes/{name}")),
            timeout=60,
            what=f"node {name} Ready without taints",
        )

    def wait_for(
        self,
        probe: Callable[[], T | None],
        *,
        timeout: float,
        what: str,
        interval: float = 0.25,
        describe: Callable[[], str] | None = None,
    ) -> T:
        return wait_for(probe, timeout=timeout, what=what, interval=interval, describe=describe)


def _pod_if(pod: JsonObject, *, ready: bool) -> JsonObject | None:
    return (
        pod if is_condition_true(pod, "Ready") == ready and pod["status"].get("phase") == "Running" else None
    )


def summarize_pods(pods: Sequence[Mapping[str, Any]]) -> str:
    """``name phase Ready=... node=...`` per pod, for wait-timeout messages."""
    parts = []
    for pod in pods:
        ready = next(
            (
                c.get("status")
                for c in pod.get("status", {}).get("conditions") or []
                if c.get("type") == "Ready"
            ),
            "-",
        )
        unscheduled = next(
            (
                c.get("message", "")
                for c in pod.get("status", {}).get("conditions") or []
                if c.get("type") == "PodScheduled" and c.get("status") == "False"
            ),
            "",
        )
        parts.append(
            f"{pod['metadata']['name']} {pod.get('status', {}).get('phase')} Ready={ready} "
            f"node={pod.get('spec', {}).get('nodeName')}" + (f" ({unscheduled})" if unscheduled else "")
        )
    return "; ".join(parts) or "no pods"


__all__ = ["ApiError", "KubeCluster", "summarize_pods"]
