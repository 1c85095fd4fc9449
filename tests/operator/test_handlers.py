"""The kopf wiring: which handlers exist, which need a finalizer, when the fast retry timer runs."""

from __future__ import annotations

from typing import Any

import kopf
import pytest

from brook_operator import handlers


def _registry() -> Any:
    return kopf.get_default_registry()


def test_finalizers_come_from_topic_deletion_and_timers_only() -> None:
    registry = _registry()
    spawning = registry._spawning.get_all_handlers()
    assert {h.id for h in spawning} >= {"kafkacluster_resync", "topic_resync", "consumergroup_refresh"}
    needing = {h.id for h in registry._changing.get_all_handlers() if h.requires_finalizer}
    assert needing == {"topic_deleted"}


def test_terminating_namespaces_are_watched() -> None:
    watching = {h.id for h in _registry()._watching.get_all_handlers()}
    assert "namespace_terminating" in watching
    assert handlers._terminating(
        kopf.Body({"metadata": {"name": "x", "deletionTimestamp": "2026-01-01T00:00:00Z"}})
    )
    assert not handlers._terminating(kopf.Body({"metadata": {"name": "x"}}))


def _status(*conditions: tuple[str, str], generation: int = 1) -> dict[str, Any]:
    return {"observedGeneration": generation, "conditions": [{"type": t, "status": s} for t, s in conditions]}


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ({}, True),
        (_status(("Ready", "True"), ("Reconciling", "False"), ("Stalled", "False")), False),
        (_status(("Ready", "False"), ("Reconciling", "True"), ("Stalled", "False")), True),
        (_status(("Ready", "False"), ("Reconciling", "False"), ("Stalled", "False")), True),
        (_status(("Ready", "False"), ("Reconciling", "False"), ("Stalled", "True")), False),
        (_status(("Ready", "False"), ("Reconciling", "True"), ("Stalled", "True")), True),
        (_status(("Ready", "Unknown"), ("Reconciling", "False"), ("Stalled", "False")), False),
        (_status(("Ready", "True"), generation=0), True),
    ],
    ids=["new", "ready", "reconciling", "retrying", "stalled", "overdue", "unmanaged", "old-generation"],
)
def test_in_progress(status: dict[str, Any], expected: bool) -> None:
    assert handlers._in_progress(status, {"generation": 1}) is expected  # type: ignore[arg-type]


def test_managed_annotation() -> None:
    assert handlers._managed({})  # type: ignore[arg-type]
    assert handlers._managed({"brook.dev/managed": "true"})  # type: ignore[arg-type]
    assert not handlers._managed({"brook.dev/managed": "false"})  # type: ignore[arg-type]
