"""The operator scenarios on a kind cluster with real images (see README.md; not run without Docker).

The Helm release from run.sh is running; each test uses its own namespace. Broker pods are real
containers, so Ready comes from the broker's readiness probe and clients really connect.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

CONTEXT = "kind-brook-e2e"

pytestmark = pytest.mark.skipif(
    shutil.which("kind") is None or shutil.which("docker") is None,
    reason="needs docker and kind (see e2e/kind/README.md)",
)


def kubectl(*args: str, stdin: str | None = None, timeout: float = 120) -> str:
    result = subprocess.run(
        ["kubectl", f"--context={CONTEXT}", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if result.returncode != 0:
        raise AssertionError(f"kubectl {' '.join(args)}: {result.stderr}")
    return result.stdout


def apply(obj: dict[str, Any], namespace: str) -> None:
    kubectl("apply", f"--namespace={namespace}", "--filename=-", stdin=json.dumps(obj))


def wait_ready(kind: str, name: str, namespace: str, timeout: int = 300) -> None:
    kubectl(
        "wait",
        f"{kind}/{name}",
        "--for=condition=Ready",
        f"--namespace={namespace}",
        f"--timeout={timeout}s",
        timeout=timeout + 10,
    )


@pytest.fixture(scope="session", autouse=True)
def _guard() -> None:
    current = subprocess.run(
        ["kubectl", "config", "current-context"], capture_output=True, text=True, check=False
    ).stdout.strip()
    if current != CONTEXT:
        pytest.skip(f"refusing to run against kube context {current!r}; run e2e/kind/run.sh")


@pytest.fixture
def namespace() -> Iterator[str]:
    name = f"kind-{uuid.uuid4().hex[:6]}"
    kubectl("create", "namespace", name)
    try:
        yield name
    finally:
        kubectl("delete", "namespace", name, "--wait=true", timeout=300)


def kafkacluster(**spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "brook.dev/v1alpha1",
        "kind": "KafkaCluster",
        "metadata": {"name": "demo"},
        "spec": spec,
    }


def test_cluster_topic_and_in_cluster_round_trip(namespace: str) -> None:
    apply(kafkacluster(storage={"size": "1Gi", "deleteClaim": True}), namespace)
    wait_ready("kafkacluster", "demo", namespace)
    topic = {
        "apiVersion": "brook.dev/v1alpha1",
        "kind": "Topic",
        "metadata": {"name": "orders"},
        "spec": {"clusterRef": {"name": "demo"}, "partitions": 3},
    }
    apply(topic, namespace)
    wait_ready("topic", "orders", namespace, timeout=120)
    bootstrap = f"demo-bootstrap.{namespace}.svc.cluster.local:9092"
    image = kubectl(
        "get",
        "statefulset/demo-broker",
        f"--namespace={namespace}",
        "-o",
        "jsonpath={.spec.template.spec.containers[0].image}",
    )
    script = (
        f"printf 'a\\nb\\nc\\n' | brook produce orders --bootstrap-server {bootstrap} && "
        f"brook consume orders --from-beginning --max-messages 3 --bootstrap-server {bootstrap}"
    )
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "round-trip"},
        "spec": {
            "restartPolicy": "Never",
            "containers": [{"name": "client", "image": image, "command": ["/bin/sh", "-c", script]}],
        },
    }
    apply(pod, namespace)
    deadline = time.monotonic() + 180
    while kubectl(
        "get", "pod/round-trip", f"--namespace={namespace}", "-o", "jsonpath={.status.phase}"
    ) not in {"Succeeded", "Failed"}:
        assert time.monotonic() < deadline, "the client pod did not finish"
        time.sleep(2)
    logs = kubectl("logs", "pod/round-trip", f"--namespace={namespace}")
    assert logs.split() == ["a", "b", "c"] or sorted(logs.split()) == ["a", "b", "c"], logs


def test_broker_restart_keeps_data_and_becomes_ready(namespace: str) -> None:
    apply(kafkacluster(storage={"size": "1Gi", "deleteClaim": True}), namespace)
    wait_ready("kafkacluster", "demo", namespace)
    kubectl("delete", "pod/demo-broker-0", f"--namespace={namespace}", "--wait=true")
    wait_ready("kafkacluster", "demo", namespace)


def test_invalid_cluster_is_refused_by_the_api_server(namespace: str) -> None:
    with pytest.raises(AssertionError, match=r"node\.id is managed by the operator"):
        apply(kafkacluster(config={"node.id": 1}), namespace)
