"""Packaging checks that need no cluster: Dockerfile lint, chart CRDs in sync, examples valid."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from brook_operator.api import consumergroup, crds, kafkacluster, topic

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "charts" / "brook"
EXAMPLES = ROOT / "examples"


def test_dockerfile_is_hadolint_clean() -> None:
    hadolint = shutil.which("hadolint") or str(Path(sys.executable).parent / "hadolint")
    result = subprocess.run([hadolint, str(ROOT / "Dockerfile")], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_dockerfile_has_both_targets_and_runs_as_non_root() -> None:
    text = (ROOT / "Dockerfile").read_text()
    assert " AS broker" in text and " AS operator" in text
    assert "USER 1000:1000" in text
    assert "ARG PYTHON_IMAGE=python:3.11." in text, "the base image is pinned to a patch release"


def test_chart_crds_match_the_generated_ones() -> None:
    for name, text in crds.render_all().items():
        chart_copy = CHART / "crds" / name
        assert chart_copy.is_file() and chart_copy.read_text() == text, (
            f"charts/brook/crds/{name} is stale: run `brook-operator crds; cp crds/*.yaml charts/brook/crds/`"
        )


def _documents(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


_MODELS = {
    "KafkaCluster": kafkacluster.KafkaClusterSpec,
    "Topic": topic.TopicSpec,
    "ConsumerGroup": consumergroup.ConsumerGroupSpec,
}


@pytest.mark.parametrize("path", sorted(EXAMPLES.rglob("*.yaml")), ids=lambda p: str(p.relative_to(EXAMPLES)))
def test_examples_are_valid(path: Path) -> None:
    for doc in _documents(path):
        assert "apiVersion" in doc and "kind" in doc, path
        if doc["apiVersion"] == "brook.dev/v1alpha1":
            _MODELS[doc["kind"]].model_validate(doc["spec"])


def test_gitops_examples_point_at_the_topics_directory() -> None:
    argo = _documents(EXAMPLES / "gitops" / "argocd-application.yaml")[0]
    flux = next(
        d for d in _documents(EXAMPLES / "gitops" / "flux-kustomization.yaml") if d["kind"] == "Kustomization"
    )
    assert argo["spec"]["source"]["path"] == "examples/gitops/topics"
    assert flux["spec"]["path"] == "./examples/gitops/topics"
    kustomization = _documents(EXAMPLES / "gitops" / "topics" / "kustomization.yaml")[0]
    for resource in kustomization["resources"]:
        assert (EXAMPLES / "gitops" / "topics" / resource).is_file()
