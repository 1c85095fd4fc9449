"""docs/operator.md states facts about the operator; they are checked against the code."""

from __future__ import annotations

from pathlib import Path

from brook_operator.api.kafkacluster import MANAGED_BROKER_CONFIG
from brook_operator.reconcilers.conditions import Reason

DOC = (Path(__file__).resolve().parents[2] / "docs" / "operator.md").read_text()


def test_every_reason_is_documented() -> None:
    reasons_table = DOC.split("## Conditions and reasons", 1)[1].split("\n## ", 1)[0]
    for reason in Reason:
        assert (
            f"| `{reason}` |" in reasons_table
            or f"`{reason}` /" in reasons_table
            or f"/ `{reason}`" in reasons_table
        ), reason


def test_every_managed_broker_key_is_documented() -> None:
    for key in MANAGED_BROKER_CONFIG:
        assert f"`{key}`" in DOC, key


def test_every_example_mentioned_exists() -> None:
    root = Path(__file__).resolve().parents[2]
    for word in DOC.split("`"):
        if word.startswith("examples/") and not word.endswith("/"):
            assert (root / word).exists(), word
