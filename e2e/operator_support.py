"""Running the Brook operator against the e2e control plane, for the `e2e/test_operator_*.py` scenarios.

Each scenario runs its own operator process watching only its namespace (so scenarios never share
an operator, and restarting one is part of a test), with the bootstrap override pointing Topic and
ConsumerGroup reconcilers at a Brook or reference-Kafka process on loopback: the brokers the operator
would start in pods are fake (kwok runs no containers).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from e2e import kubeapi
from e2e.kubeapi import ApiError, JsonObject, wait_for
from e2e.processes import stop_process
from e2e.testing import KubeCluster

ROOT = Path(__file__).resolve().parents[1]
CRDS = ROOT / "crds"
GROUP_PATH = "/apis/brook.dev/v1alpha1"


def install_crds(cluster: KubeCluster) -> None:
    """Apply crds/ (server-side, like `kubectl apply --server-side -f crds/`) and wait until Established."""
    cluster.kubectl(
        "apply", "--server-side", "--force-conflicts", "--field-manager=brook-e2e", f"--filename={CRDS}"
    )
    for path in sorted(CRDS.glob("*.yaml")):
        name = path.name.removesuffix(".yaml")
        cluster.kubectl("wait", "--for=condition=Established", f"crd/{name}", "--timeout=60s")


class OperatorProcess:
    """`brook-operator run --namespace NS` (standalone or with kopf peering) as a child process."""

    def __init__(
        self,
        cluster: KubeCluster,
        *,
        namespace: str,
        overrides: Mapping[str, str],
        env: Mapping[str, str] | None = None,
        peering: str | None = None,
    ) -> None:
        self.cluster = cluster
        self.peering = peering
        self.namespace = namespace
        self.overrides = dict(overrides)
        self.extra_env = dict(env or {})
        self.log_path = cluster.work_dir / "operator-logs" / f"{namespace}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> OperatorProcess:
        self.log_path.parent.mkdir(exist_ok=True)
        env = {
            **os.environ,
            **self.cluster.env(),
            "BROOK_OPERATOR_RESYNC_SECONDS": "3",
            "BROOK_OPERATOR_GROUP_REFRESH_SECONDS": "2",
            "BROOK_OPERATOR_BOOTSTRAP_OVERRIDE": ";".join(f"{k}={v}" for k, v in self.overrides.items()),
            "PYTHONUNBUFFERED": "1",
            **self.extra_env,
        }
        command = [
            sys.executable,
            "-m",
            "brook_operator",
            "run",
            f"--peering={self.peering}" if self.peering else "--standalone",
            f"--namespace={self.namespace}",
        ]
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        return self

    def stop(self, *, kill: bool = False) -> None:
        if self.proc is not None:
            stop_process(self.proc, timeout=30, sig=signal.SIGKILL if kill else signal.SIGTERM)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-6000:]


@contextlib.contextmanager
def running_operator(
    cluster: KubeCluster,
    *,
    namespace: str,
    overrides: Mapping[str, str],
    env: Mapping[str, str] | None = None,
) -> Iterator[OperatorProcess]:
    """The operator for one scenario; the namespace is deleted while it still runs.

    Brook objects carry the operator's finalizer, so deleting their namespace needs the operator (as
    in production: delete Brook resources before uninstalling it).
    """
    process = OperatorProcess(cluster, namespace=namespace, overrides=overrides, env=env).start()
    try:
        yield process
    finally:
        try:
            if cluster.api.exists(f"/api/v1/namespaces/{namespace}"):
                cluster.delete_namespace(namespace, timeout=90)
        finally:
            process.stop()


def cr_path(namespace: str, plural: str, name: str = "") -> str:
    return f"{GROUP_PATH}/namespaces/{namespace}/{plural}" + (f"/{name}" if name else "")


def get_cr(cluster: KubeCluster, namespace: str, plural: str, name: str) -> JsonObject | None:
    try:
        body: JsonObject = cluster.api.get(cr_path(namespace, plural, name))
    except ApiError as error:
        if error.status == 404:
            return None
        raise
    return body


def condition(body: Mapping[str, Any] | None, type_: str) -> Mapping[str, Any]:
    """The CR's condition of type ``type_``, or an empty mapping (no body, or no such condition yet)."""
    return kubeapi.condition(body or {}, type_) or {}


def wait_for_condition(
    cluster: KubeCluster,
    operator: OperatorProcess | None,
    *,
    namespace: str,
    plural: str,
    name: str,
    type_: str = "Ready",
    status: str = "True",
    reason: str | None = None,
    timeout: float = 60.0,
) -> JsonObject:
    """Wait until a CR's condition has the status (and reason) for its current generation."""

    def probe() -> JsonObject | None:
        body = get_cr(cluster, namespace, plural, name)
        found = condition(body, type_)
        if body is None or not found:
            return None
        current = found.get("observedGeneration") == body["metadata"]["generation"]
        if current and found["status"] == status and (reason is None or found["reason"] == reason):
            return body
        return None

    def describe() -> str:
        body = get_cr(cluster, namespace, plural, name)
        status_text = json.dumps((body or {}).get("status"), indent=1)[:3000]
        return f"status: {status_text}\noperator log tail:\n{operator.log() if operator else '(no operator)'}"

    return wait_for(
        probe, timeout=timeout, what=f"{plural}/{name} {type_}={status} {reason or ''}", describe=describe
    )


def events_for(cluster: KubeCluster, namespace: str, name: str) -> list[tuple[str, str, str]]:
    """(type, reason, message) of the Events on an object, oldest first."""
    items = cluster.api.items(
        f"/api/v1/namespaces/{namespace}/events", fieldSelector=f"involvedObject.name={name}"
    )
    items.sort(key=lambda e: e.get("lastTimestamp") or e.get("eventTime") or "")
    return [(e.get("type", ""), e.get("reason", ""), e.get("message", "")) for e in items]


def kafkacluster(name: str, **spec: Any) -> JsonObject:
    return _brook_object("KafkaCluster", name, spec)


def topic(name: str, *, cluster: str, **spec: Any) -> JsonObject:
    return _brook_object("Topic", name, {"clusterRef": {"name": cluster}, **spec})


def consumergroup(name: str, *, cluster: str, **spec: Any) -> JsonObject:
    return _brook_object("ConsumerGroup", name, {"clusterRef": {"name": cluster}, **spec})


def _brook_object(kind: str, name: str, spec: JsonObject) -> JsonObject:
    return {"apiVersion": "brook.dev/v1alpha1", "kind": kind, "metadata": {"name": name}, "spec": spec}
