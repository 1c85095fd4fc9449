"""The Helm chart: lint, `helm template | kubeconform` (with the CRDs' schemas), install, and the operator
running with exactly the chart's RBAC (its ServiceAccount's token) and kopf peering."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from e2e import operator_support as support
from e2e import schemas, tools
from e2e.testing import KubeCluster
from e2e.versions import default_layout

pytestmark = pytest.mark.e2e
CHART = support.ROOT / "charts" / "brook"
KINDS = ["KafkaCluster", "Topic", "ConsumerGroup", "ClusterKopfPeering", "KopfPeering"]


@pytest.fixture(scope="module")
def crd_schema_dir(k8s_cluster: KubeCluster, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """kubeconform schemas for the chart's CRDs, from the API server's published OpenAPI."""
    support.install_crds(k8s_cluster)
    k8s_cluster.kubectl("apply", "--server-side", f"--filename={CHART / 'crds' / 'kopf-peering.yaml'}")
    swagger = schemas.fetch_openapi(k8s_cluster.api, expect_kinds=KINDS)
    out = tmp_path_factory.mktemp("crd-schemas")
    definitions = swagger["definitions"]
    for strict in (True, False):
        target = out / f"v{default_layout().versions.k8s}-standalone{'-strict' if strict else ''}"
        target.mkdir(parents=True)
        for name, group, version, kind in schemas.kinds(definitions):
            if kind in KINDS:
                schema = schemas.standalone(name, definitions, strict=strict)
                (target / schemas.kind_filename(group, version, kind)).write_text(json.dumps(schema))
    return out


def test_helm_lint() -> None:
    tools.helm("lint", "--strict", str(CHART))
    tools.helm(
        "lint", "--strict", str(CHART), "--set", "kafkaCluster.enabled=true", "--set", "watchNamespaces={a,b}"
    )


@pytest.mark.parametrize(
    "values",
    [
        [],
        ["--set", "kafkaCluster.enabled=true"],
        ["--set", "watchNamespaces={team-a,team-b}", "--set", "replicaCount=1"],
    ],
    ids=["default", "with-cluster", "namespaced"],
)
def test_helm_template_passes_kubeconform(crd_schema_dir: Path, values: list[str]) -> None:
    rendered = tools.helm(
        "template", "brook", str(CHART), "--namespace", "brook-system", "--include-crds", *values
    )
    result = tools.kubeconform(rendered, extra_schema_dirs=[crd_schema_dir])
    assert "Invalid: 0, Errors: 0, Skipped: 0" in result.stdout, result.stdout
    kinds = {doc["kind"] for doc in yaml.safe_load_all(rendered) if doc}
    assert {"Deployment", "ServiceAccount", "ClusterRole", "CustomResourceDefinition"} <= kinds


def test_rbac_is_namespaced_when_namespaces_are_listed() -> None:
    rendered = tools.helm("template", "brook", str(CHART), "--set", "watchNamespaces={team-a}")
    docs = [doc for doc in yaml.safe_load_all(rendered) if doc]
    bindings = [(d["kind"], d["metadata"].get("namespace")) for d in docs if d["kind"].endswith("Binding")]
    assert ("RoleBinding", "team-a") in bindings
    assert [b for b in bindings if b[0] == "ClusterRoleBinding"] == [("ClusterRoleBinding", None)], (
        "only discovery"
    )
    cluster_role = next(
        d for d in docs if d["kind"] == "ClusterRole" and d["metadata"]["name"].endswith("-cluster")
    )
    assert all(rule["verbs"] != ["*"] for rule in cluster_role["rules"])
    for doc in docs:
        for rule in doc.get("rules", []):
            assert "secrets" not in rule["resources"] and "*" not in rule["resources"]


def test_install_and_run_with_the_charts_rbac(
    k8s_cluster: KubeCluster, namespace: str, crd_schema_dir: Path
) -> None:
    release = f"b{namespace[-6:]}"
    k8s_cluster.helm(
        "install",
        release,
        str(CHART),
        "--namespace",
        namespace,
        "--set",
        f"watchNamespaces={{{namespace}}}",
        "--set",
        "image.repository=registry.invalid/brook-operator",
        "--wait",
        "--timeout",
        "120s",
    )
    try:
        deployment = k8s_cluster.api.get(
            f"/apis/apps/v1/namespaces/{namespace}/deployments/{release}-brook-operator"
        )
        assert deployment["status"].get("readyReplicas") == 2
        assert k8s_cluster.api.exists(f"/apis/kopf.dev/v1/namespaces/{namespace}/kopfpeerings/brook-operator")
        # kwok runs no containers: run the operator here, authenticated as the chart's ServiceAccount.
        kubeconfig = k8s_cluster.service_account_kubeconfig(namespace, f"{release}-brook-operator")
        operator = support.OperatorProcess(
            k8s_cluster,
            namespace=namespace,
            overrides={},
            env={"KUBECONFIG": str(kubeconfig)},
            peering="brook-operator",
        )
        operator.start()
        try:
            k8s_cluster.apply(support.kafkacluster("demo"), namespace=namespace)
            support.wait_for_condition(
                k8s_cluster, operator, namespace=namespace, plural="kafkaclusters", name="demo", timeout=90
            )
            assert "Forbidden" not in operator.log()
            # Deleting needs the operator (its finalizer) and the chart's RBAC must allow it.
            k8s_cluster.kubectl(
                "delete", "kafkacluster/demo", f"--namespace={namespace}", "--wait=true", timeout=60
            )
        finally:
            operator.stop()
    finally:
        k8s_cluster.helm("uninstall", release, "--namespace", namespace, "--wait")
