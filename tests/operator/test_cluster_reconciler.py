"""KafkaCluster reconcile paths that refuse a spec before touching Kubernetes (the rest runs in e2e/)."""

from __future__ import annotations

from typing import Any

import pytest

from brook_operator import settings
from brook_operator.api.kafkacluster import KafkaClusterStatus
from brook_operator.model import naming
from brook_operator.reconcilers import cluster
from brook_operator.resources import applier


class Untouchable(applier.Applier):
    """An applier that fails the test if the reconciler calls Kubernetes at all."""

    def __init__(self) -> None:
        pass

    def __getattribute__(self, name: str) -> Any:
        if name in {"apply", "delete", "get", "list_objects"}:
            pytest.fail(f"the reconciler called Kubernetes ({name}) for a refused spec")
        return super().__getattribute__(name)


async def _reconcile(spec: dict[str, Any]) -> tuple[cluster.Result, list[tuple[str, str, str]]]:
    posted: list[tuple[str, str, str]] = []

    def events(*, type_: str, reason: str, message: str) -> None:
        posted.append((type_, reason, message))

    result = await cluster.reconcile(
        identity=naming.ClusterIdentity(name="demo", namespace="kafka", uid="u"),
        generation=2,
        spec=spec,
        previous=KafkaClusterStatus(),
        kube=Untouchable(),
        settings=settings.Settings(),
        events=events,
    )
    return result, posted


async def test_more_replicas_than_brook_supports_are_refused_without_changes() -> None:
    result, posted = await _reconcile({"replicas": 3})
    by_type = {c.type: c for c in result.status.conditions}
    assert (by_type["Ready"].status, by_type["Ready"].reason) == ("False", "ReplicasNotSupported")
    assert by_type["Stalled"].status == "True" and by_type["Reconciling"].status == "False"
    assert "replicas: 3 is not supported yet" in by_type["Ready"].message
    assert result.status.observed_generation == 2 and result.retry_after is None
    assert posted == [("Warning", "ReplicasNotSupported", by_type["Ready"].message)]


async def test_a_spec_the_model_refuses_is_invalid() -> None:
    result, _ = await _reconcile({"config": {"node.id": "7"}})
    ready = next(c for c in result.status.conditions if c.type == "Ready")
    assert ready.reason == "InvalidSpec" and "node.id" in ready.message


def test_settings_from_env() -> None:
    parsed = settings.from_env(
        {
            "BROOK_OPERATOR_NAMESPACES": "a, b",
            "BROOK_OPERATOR_BOOTSTRAP_OVERRIDE": "kafka/demo=127.0.0.1:1,127.0.0.1:2; 127.0.0.1:3 */ref=h:4",
            "BROOK_OPERATOR_RESYNC_SECONDS": "5",
        }
    )
    assert parsed.namespaces == ("a", "b") and parsed.resync_seconds == 5.0
    assert parsed.bootstrap_for(namespace="kafka", name="demo") == "127.0.0.1:1,127.0.0.1:2"
    assert parsed.bootstrap_for(namespace="kafka", name="other") == "127.0.0.1:3"
    assert parsed.bootstrap_for(namespace="any", name="ref") == "h:4"
    assert settings.from_env({}).bootstrap_for(namespace="kafka", name="demo") is None
