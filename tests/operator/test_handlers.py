"""The kopf wiring: which handlers exist, which need a finalizer, when the fast retry timer runs."""

from __future__ import annotations

from typing import Any

import kopf
import pytest

from brook_operator import handlers


def _registry() -> Any:
    return kopf.get_default_registry()


def test_only_the_topic_deletion_handler_needs_a_finalizer() -> None:
    """kopf would put a finalizer on every object with a timer; the operator turns that off."""
    registry = _registry()
    spawning = registry._spawning.get_all_handlers()
    assert {h.id for h in spawning} >= {"kafkacluster_resync", "topic_resync", "consumergroup_refresh"}
    assert all(not h.requires_finalizer for h in spawning)
    needing = {h.id for h in registry._changing.get_all_handlers() if h.requires_finalizer}
    assert needing == {"topic_deleted"}


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
