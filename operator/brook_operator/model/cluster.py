"""Everything a KafkaCluster needs, built in one call: the desired state the reconciler applies.

Pure: no Kubernetes or Kafka calls. The reconciler passes in what only the API server knows (the
addresses of external Services once they exist) and gets back the objects in apply order.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from brook_operator.api.kafkacluster import KafkaClusterSpec
from brook_operator.model import config, naming, services, workload


def image_for(spec: KafkaClusterSpec, *, repository: str) -> str:
    """spec.image if given, else `<repository>:<spec.version>`."""
    return spec.image or f"{repository}:{spec.version}"


def build_network(cluster: naming.ClusterIdentity, spec: KafkaClusterSpec) -> list[dict[str, Any]]:
    """The Services, built first: external addresses must exist before the broker config names them."""
    return [
        services.build_headless_service(cluster, spec),
        services.build_bootstrap_service(cluster, spec),
        *services.build_external_services(cluster, spec),
    ]


def build_brokers(
    cluster: naming.ClusterIdentity,
    spec: KafkaClusterSpec,
    *,
    image: str,
    external_addresses: Mapping[int, str],
) -> list[dict[str, Any]]:
    """ConfigMap, StatefulSet and PodDisruptionBudget, in that order (the pods need the config)."""
    config_map = config.build_config_map(cluster, spec, external_addresses=external_addresses)
    return [
        config_map,
        workload.build_statefulset(cluster, spec, image=image, config_hash=config.config_hash(config_map)),
        workload.build_pod_disruption_budget(cluster, spec),
    ]


def build_all(
    cluster: naming.ClusterIdentity,
    spec: KafkaClusterSpec,
    *,
    image: str,
    external_addresses: Mapping[int, str],
) -> list[dict[str, Any]]:
    """Every object of the cluster, in apply order."""
    return [
        *build_network(cluster, spec),
        *build_brokers(cluster, spec, image=image, external_addresses=external_addresses),
    ]
