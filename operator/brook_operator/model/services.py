"""Services: the headless Service (stable broker DNS), the bootstrap Service, and external Services.

Kafka clients bootstrap through any address and then connect to each broker's advertised address, so
an external listener needs one Service per broker (selecting one pod by `statefulset.kubernetes.io/pod-name`)
plus a bootstrap Service; the per-broker addresses go into the broker config (`model.config`).
"""

from __future__ import annotations

from typing import Any

from brook_operator.api.kafkacluster import ExternalListenerType, KafkaClusterSpec
from brook_operator.model import config, naming

POD_NAME_LABEL = "statefulset.kubernetes.io/pod-name"


def build_headless_service(cluster: naming.ClusterIdentity, spec: KafkaClusterSpec) -> dict[str, Any]:
    """Gives broker N the DNS name `<cluster>-broker-N.<cluster>-brokers.<ns>.svc`."""
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": naming.metadata(cluster, name=cluster.headless_service, version=spec.version),
        "spec": {
            "clusterIP": "None",
            # Brokers must find each other before they are Ready (a quorum forms before anyone serves).
            "publishNotReadyAddresses": True,
            "selector": naming.selector_labels(cluster),
            "ports": [{"name": "internal", "port": spec.listeners.internal.port, "targetPort": "internal"}],
        },
    }


def build_bootstrap_service(cluster: naming.ClusterIdentity, spec: KafkaClusterSpec) -> dict[str, Any]:
    """`<cluster>-bootstrap:<port>`: what in-cluster clients put in bootstrap.servers (Ready brokers only)."""
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": naming.metadata(cluster, name=cluster.bootstrap_service, version=spec.version),
        "spec": {
            "type": "ClusterIP",
            "selector": naming.selector_labels(cluster),
            "ports": [{"name": "internal", "port": spec.listeners.internal.port, "targetPort": "internal"}],
        },
    }


def _external_service(
    cluster: naming.ClusterIdentity,
    spec: KafkaClusterSpec,
    *,
    name: str,
    selector: dict[str, str],
    node_port: int | None,
) -> dict[str, Any]:
    external = spec.listeners.external
    assert external is not None
    port: dict[str, Any] = {
        "name": "external",
        "port": external.port,
        "targetPort": "external",
        "protocol": "TCP",
    }
    if node_port is not None:
        port["nodePort"] = node_port
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": naming.metadata(
            cluster, name=name, version=spec.version, annotations=external.annotations
        ),
        "spec": {"type": str(external.type), "selector": selector, "ports": [port]},
    }


def build_external_services(cluster: naming.ClusterIdentity, spec: KafkaClusterSpec) -> list[dict[str, Any]]:
    """One Service per broker plus an external bootstrap Service; none without an external listener."""
    external = spec.listeners.external
    if external is None:
        return []
    base = external.node_port_base if external.type == ExternalListenerType.NODE_PORT else None
    services = [
        _external_service(
            cluster,
            spec,
            name=cluster.external_bootstrap_service,
            selector=naming.selector_labels(cluster),
            node_port=base,
        )
    ]
    services.extend(
        _external_service(
            cluster,
            spec,
            name=cluster.external_service(ordinal),
            selector={**naming.selector_labels(cluster), POD_NAME_LABEL: cluster.pod(ordinal)},
            node_port=None if base is None else base + ordinal + 1,
        )
        for ordinal in range(spec.replicas)
    )
    return services


def external_address(service: dict[str, Any], *, listener_type: ExternalListenerType) -> str | None:
    """The host:port a client outside Kubernetes uses for this (applied) external Service, if known yet.

    NodePort: the node's IP is known only inside the pod, so the host is `model.config.HOST_IP_TOKEN`,
    which start.sh replaces. LoadBalancer: the first ingress IP or hostname, once provisioned.
    """
    port = service["spec"]["ports"][0]
    if listener_type == ExternalListenerType.NODE_PORT:
        node_port = port.get("nodePort")
        return None if node_port is None else f"{config.HOST_IP_TOKEN}:{node_port}"
    ingress = (service.get("status", {}).get("loadBalancer", {}) or {}).get("ingress") or []
    if not ingress:
        return None
    host = ingress[0].get("ip") or ingress[0].get("hostname")
    return None if host is None else f"{host}:{port['port']}"
