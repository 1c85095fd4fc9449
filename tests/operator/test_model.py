"""The pure builders: a KafkaCluster spec in, the expected Kubernetes objects out."""

from __future__ import annotations

from typing import Any

import kubernetes_validate
import pydantic
import pytest

from brook_operator.api.kafkacluster import parse_spec
from brook_operator.model import cluster, config, naming, services, workload

IDENTITY = naming.ClusterIdentity(name="demo", namespace="kafka", uid="0000-1111")


def _objects(
    spec: dict[str, Any], *, external: dict[int, str] | None = None
) -> dict[tuple[str, str], dict[str, Any]]:
    built = cluster.build_all(
        IDENTITY, parse_spec(spec), image="brook:0.1.0", external_addresses=external or {}
    )
    return {(o["kind"], o["metadata"]["name"]): o for o in built}


def test_default_cluster_objects_in_apply_order() -> None:
    built = cluster.build_all(IDENTITY, parse_spec({}), image="brook:0.1.0", external_addresses={})
    assert [(o["kind"], o["metadata"]["name"]) for o in built] == [
        ("Service", "demo-brokers"),
        ("Service", "demo-bootstrap"),
        ("ConfigMap", "demo-config"),
        ("StatefulSet", "demo-broker"),
        ("PodDisruptionBudget", "demo-broker"),
    ]


@pytest.mark.parametrize(
    "spec",
    [
        {},
        {"listeners": {"external": {"type": "NodePort", "nodePortBase": 31000}}},
        {"listeners": {"external": {"type": "LoadBalancer"}}, "rack": {}},
    ],
    ids=["default", "nodeport", "loadbalancer"],
)
def test_every_object_is_valid_for_kubernetes(spec: dict[str, Any]) -> None:
    for obj in _objects(spec).values():
        kubernetes_validate.validate(obj, "1.34", strict=True)


def test_every_object_has_recommended_labels_and_an_owner() -> None:
    for obj in _objects({"listeners": {"external": {"type": "NodePort"}}}).values():
        meta = obj["metadata"]
        assert meta["namespace"] == "kafka"
        assert meta["labels"]["app.kubernetes.io/name"] == "brook"
        assert meta["labels"]["app.kubernetes.io/instance"] == "demo"
        assert meta["labels"]["app.kubernetes.io/managed-by"] == "brook-operator"
        assert meta["labels"]["app.kubernetes.io/version"] == "0.1.0"
        (owner,) = meta["ownerReferences"]
        assert owner == {
            "apiVersion": "brook.dev/v1alpha1",
            "kind": "KafkaCluster",
            "name": "demo",
            "uid": "0000-1111",
            "controller": True,
            "blockOwnerDeletion": True,
        }


def test_statefulset_shape() -> None:
    sts = _objects({"storage": {"size": "20Gi", "storageClass": "fast", "deleteClaim": True}})[
        ("StatefulSet", "demo-broker")
    ]
    spec = sts["spec"]
    assert spec["replicas"] == 1
    assert spec["serviceName"] == "demo-brokers"
    assert spec["selector"]["matchLabels"] == naming.selector_labels(IDENTITY)
    assert spec["persistentVolumeClaimRetentionPolicy"] == {"whenDeleted": "Delete", "whenScaled": "Retain"}
    (claim,) = spec["volumeClaimTemplates"]
    assert claim["spec"]["resources"]["requests"]["storage"] == "20Gi"
    assert claim["spec"]["storageClassName"] == "fast"
    pod = spec["template"]["spec"]
    assert pod["terminationGracePeriodSeconds"] == 120
    assert pod["automountServiceAccountToken"] is False
    assert pod["securityContext"]["runAsNonRoot"] is True
    (container,) = pod["containers"]
    assert container["image"] == "brook:0.1.0"
    assert container["command"] == ["/bin/sh", "/etc/brook/start.sh"]
    assert container["readinessProbe"]["exec"]["command"] == ["python3", "/etc/brook/probe.py", "9092"]
    assert container["livenessProbe"]["tcpSocket"]["port"] == 9092
    assert container["startupProbe"]["failureThreshold"] * container["startupProbe"]["periodSeconds"] >= 600
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert spec["template"]["metadata"]["annotations"][workload.CONFIG_HASH_ANNOTATION]


def test_retained_claims_by_default() -> None:
    sts = _objects({})[("StatefulSet", "demo-broker")]
    assert sts["spec"]["persistentVolumeClaimRetentionPolicy"]["whenDeleted"] == "Retain"


def test_pod_template_overrides() -> None:
    affinity = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": []}}}
    toleration = {"key": "dedicated", "operator": "Equal", "value": "kafka", "effect": "NoSchedule"}
    sts = _objects(
        {
            "podTemplate": {
                "labels": {"team": "data", "app.kubernetes.io/name": "mine"},
                "annotations": {"prometheus.io/scrape": "true"},
                "affinity": affinity,
                "tolerations": [toleration],
                "nodeSelector": {"disk": "ssd"},
                "priorityClassName": "high",
                "terminationGracePeriodSeconds": 300,
            },
            "resources": {"requests": {"cpu": "500m", "memory": "1Gi"}, "limits": {"memory": "2Gi"}},
        }
    )[("StatefulSet", "demo-broker")]
    template = sts["spec"]["template"]
    assert template["metadata"]["labels"]["team"] == "data"
    assert template["metadata"]["labels"]["app.kubernetes.io/name"] == "brook", "the operator's labels win"
    assert template["metadata"]["annotations"]["prometheus.io/scrape"] == "true"
    pod = template["spec"]
    assert pod["affinity"] == affinity
    assert pod["tolerations"] == [toleration]
    assert pod["nodeSelector"] == {"disk": "ssd"}
    assert pod["priorityClassName"] == "high"
    assert pod["terminationGracePeriodSeconds"] == 300
    assert pod["containers"][0]["resources"] == {
        "requests": {"cpu": "500m", "memory": "1Gi"},
        "limits": {"memory": "2Gi"},
    }


def test_rack_awareness_spreads_brokers_over_the_topology_key() -> None:
    pod = _objects({"rack": {"topologyKey": "topology.kubernetes.io/zone"}})[("StatefulSet", "demo-broker")][
        "spec"
    ]["template"]["spec"]
    (spread,) = pod["topologySpreadConstraints"]
    env = {e["name"]: e for e in pod["containers"][0]["env"]}
    assert (
        env["BROKER_RACK"]["valueFrom"]["fieldRef"]["fieldPath"]
        == "metadata.labels['topology.kubernetes.io/zone']"
    )
    assert spread["topologyKey"] == "topology.kubernetes.io/zone"
    assert spread["labelSelector"]["matchLabels"] == naming.selector_labels(IDENTITY)


def test_services() -> None:
    objs = _objects({})
    headless = objs[("Service", "demo-brokers")]["spec"]
    assert headless["clusterIP"] == "None" and headless["publishNotReadyAddresses"] is True
    bootstrap = objs[("Service", "demo-bootstrap")]["spec"]
    assert bootstrap["type"] == "ClusterIP"
    assert bootstrap["ports"] == [{"name": "internal", "port": 9092, "targetPort": "internal"}]


def test_pdb_allows_one_broker_down() -> None:
    pdb = _objects({})[("PodDisruptionBudget", "demo-broker")]
    assert pdb["spec"]["maxUnavailable"] == 1
    assert pdb["spec"]["selector"]["matchLabels"] == naming.selector_labels(IDENTITY)


def test_nodeport_services_and_ports() -> None:
    objs = _objects({"listeners": {"external": {"type": "NodePort", "nodePortBase": 31000}}})
    assert objs[("Service", "demo-external-bootstrap")]["spec"]["ports"][0]["nodePort"] == 31000
    broker = objs[("Service", "demo-broker-0-external")]["spec"]
    assert broker["type"] == "NodePort"
    assert broker["ports"][0]["nodePort"] == 31001
    assert broker["selector"][services.POD_NAME_LABEL] == "demo-broker-0"
    ports = objs[("StatefulSet", "demo-broker")]["spec"]["template"]["spec"]["containers"][0]["ports"]
    assert [p["containerPort"] for p in ports] == [9092, 9094]


def test_loadbalancer_services_carry_annotations() -> None:
    objs = _objects({"listeners": {"external": {"type": "LoadBalancer", "annotations": {"lb": "internal"}}}})
    svc = objs[("Service", "demo-broker-0-external")]
    assert svc["spec"]["type"] == "LoadBalancer"
    assert svc["metadata"]["annotations"] == {"lb": "internal"}
    assert "nodePort" not in svc["spec"]["ports"][0]


def test_external_address_from_applied_services() -> None:
    nodeport = {"spec": {"ports": [{"port": 9094, "nodePort": 31234}]}}
    assert services.external_address(nodeport, listener_type="NodePort") == "@HOST_IP@:31234"  # type: ignore[arg-type]
    pending = {"spec": {"ports": [{"port": 9094}]}, "status": {"loadBalancer": {}}}
    assert services.external_address(pending, listener_type="LoadBalancer") is None  # type: ignore[arg-type]
    ready = {
        "spec": {"ports": [{"port": 9094}]},
        "status": {"loadBalancer": {"ingress": [{"hostname": "lb.example"}]}},
    }
    assert services.external_address(ready, listener_type="LoadBalancer") == "lb.example:9094"  # type: ignore[arg-type]


def test_broker_config() -> None:
    objs = _objects(
        {
            "listeners": {"external": {"type": "NodePort"}},
            "config": {"num.partitions": 3, "auto.create.topics.enable": "false"},
        },
        external={0: "@HOST_IP@:31001"},
    )
    data = objs[("ConfigMap", "demo-config")]["data"]
    assert set(data) == {"server.properties", "start.sh", "probe.py", "broker-0.properties"}
    server = data["server.properties"]
    assert "listeners=INTERNAL://:9092,EXTERNAL://:9094\n" in server
    assert "inter.broker.listener.name=INTERNAL\n" in server
    assert "log.dirs=/var/lib/brook/data\n" in server
    assert "num.partitions=3\n" in server and "auto.create.topics.enable=false\n" in server
    broker = data["broker-0.properties"]
    assert "node.id=0\n" in broker
    assert (
        "advertised.listeners=INTERNAL://demo-broker-0.demo-brokers.kafka.svc.cluster.local:9092,"
        "EXTERNAL://@HOST_IP@:31001\n"
    ) in broker


def test_user_config_overrides_single_broker_defaults() -> None:
    server = config.server_properties(parse_spec({"config": {"min.insync.replicas": "2"}}))
    assert server["min.insync.replicas"] == "2"


def test_config_change_changes_the_pod_template_hash() -> None:
    def hash_of(spec: dict[str, Any]) -> str:
        sts = _objects(spec)[("StatefulSet", "demo-broker")]
        value: str = sts["spec"]["template"]["metadata"]["annotations"][workload.CONFIG_HASH_ANNOTATION]
        return value

    assert hash_of({}) == hash_of({})
    assert hash_of({}) != hash_of({"config": {"log.retention.ms": 1000}})


@pytest.mark.parametrize("key", ["node.id", "listeners", "log.dirs", "process.roles", "advertised.listeners"])
def test_managed_broker_keys_are_refused(key: str) -> None:
    with pytest.raises(pydantic.ValidationError, match=f"managed by the operator cannot be set: {key}"):
        parse_spec({"config": {key: "x"}})


def test_image_from_version_or_override() -> None:
    assert cluster.image_for(parse_spec({"version": "0.2.0"}), repository="reg/brook") == "reg/brook:0.2.0"
    assert cluster.image_for(parse_spec({"image": "mine:dev"}), repository="reg/brook") == "mine:dev"


def test_config_values_are_strings_or_numbers() -> None:
    assert parse_spec({"config": {"log.retention.ms": 1000, "x": 1.5}}).config == {
        "log.retention.ms": "1000",
        "x": "1.5",
    }
    with pytest.raises(pydantic.ValidationError, match="quote booleans"):
        parse_spec({"config": {"auto.create.topics.enable": False}})
