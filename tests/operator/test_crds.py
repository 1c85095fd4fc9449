"""The CRDs in crds/ are generated from brook_operator.api, structural, and valid Kubernetes objects."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from brook_operator.api import crds
from brook_operator.cli import main

ROOT = Path(__file__).resolve().parents[2]
CRDS = ROOT / "crds"


def _walk(node: Any, path: str = "") -> list[tuple[str, dict[str, Any]]]:
    found: list[tuple[str, dict[str, Any]]] = []
    if isinstance(node, dict):
        found.append((path, node))
        for key, prop in node.get("properties", {}).items():
            found += _walk(prop, f"{path}.{key}")
        if isinstance(node.get("items"), dict):
            found += _walk(node["items"], f"{path}[]")
        if isinstance(node.get("additionalProperties"), dict):
            found += _walk(node["additionalProperties"], f"{path}{{}}")
    return found


def _schema(kind: crds.Kind) -> dict[str, Any]:
    schema: dict[str, Any] = crds.crd(kind)["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    return schema


def test_crds_directory_is_up_to_date() -> None:
    """Fails when an API model changed without `brook-operator crds` being run."""
    assert main(["crds", "--output", str(CRDS), "--check"]) == 0, "crds/ is stale: run `brook-operator crds`"


def test_check_reports_a_stale_file(tmp_path: Path) -> None:
    assert main(["crds", "--output", str(tmp_path)]) == 0
    (tmp_path / "topics.brook.dev.yaml").write_text("stale\n")
    assert main(["crds", "--output", str(tmp_path), "--check"]) == 1


@pytest.mark.parametrize("kind", crds.KINDS, ids=lambda k: k.kind)
def test_schema_is_structural(kind: crds.Kind) -> None:
    """Kubernetes' structural-schema rules: a type everywhere, no $ref, no nullable anyOf, no titles."""
    for path, node in _walk(_schema(kind)):
        assert "$ref" not in node and "anyOf" not in node and "title" not in node, path
        assert node.get("additionalProperties") is not False, path
        flagged = node.get("x-kubernetes-int-or-string") or node.get("x-kubernetes-preserve-unknown-fields")
        assert "type" in node or flagged, f"{kind.kind}{path} has no type"
        assert not ("properties" in node and "additionalProperties" in node), path


@pytest.mark.parametrize("kind", crds.KINDS, ids=lambda k: k.kind)
def test_every_spec_and_status_field_is_described(kind: crds.Kind) -> None:
    """`kubectl explain` shows the field docstrings."""
    schema = _schema(kind)
    for root in ("spec", "status"):
        for path, node in _walk(schema["properties"][root], root):
            if path.endswith(("[]", "}")) or path in {"spec.offsetReset", "status.lag"}:
                continue
            assert node.get("description"), f"{kind.kind}.{path} has no description"


@pytest.mark.parametrize("kind", crds.KINDS, ids=lambda k: k.kind)
def test_crd_is_a_valid_kubernetes_object(kind: crds.Kind) -> None:
    kubernetes_validate.validate(crds.crd(kind), "1.34", strict=True)


def test_kafkacluster_defaults_and_columns() -> None:
    kind = crds.KINDS[0]
    spec = _schema(kind)["properties"]["spec"]["properties"]
    assert spec["replicas"]["default"] == 1
    assert spec["listeners"]["default"] == {}
    assert spec["listeners"]["properties"]["internal"]["properties"]["port"]["default"] == 9092
    assert spec["listeners"]["properties"]["external"]["properties"]["type"]["enum"] == [
        "NodePort",
        "LoadBalancer",
    ]
    version = crds.crd(kind)["spec"]["versions"][0]
    assert [c["name"] for c in version["additionalPrinterColumns"]][:4] == [
        "Ready",
        "Reason",
        "Replicas",
        "Ready-Replicas",
    ]
    assert version["subresources"]["scale"]["specReplicasPath"] == ".spec.replicas"


def test_forbidden_broker_config_rule_names_every_managed_key() -> None:
    rules = _schema(crds.KINDS[0])["properties"]["spec"]["properties"]["config"]["x-kubernetes-validations"]
    assert (
        "node.id" in rules[0]["rule"]
        and "log.dirs" in rules[0]["rule"]
        and "process.roles" in rules[0]["rule"]
    )
    assert rules[0]["message"].startswith("broker config keys managed by the operator cannot be set")


def test_conditions_are_a_map_list_in_metav1_shape() -> None:
    for kind in crds.KINDS:
        conditions = _schema(kind)["properties"]["status"]["properties"]["conditions"]
        assert conditions["x-kubernetes-list-type"] == "map"
        assert conditions["x-kubernetes-list-map-keys"] == ["type"]
        item = conditions["items"]
        assert set(item["required"]) == {"type", "status", "reason", "lastTransitionTime"}
        assert item["properties"]["status"]["enum"] == ["True", "False", "Unknown"]
        assert "observedGeneration" in item["properties"]


def test_rendered_files_parse_as_yaml() -> None:
    for path in sorted(CRDS.glob("*.yaml")):
        document = yaml.safe_load(path.read_text())
        assert document["kind"] == "CustomResourceDefinition"
