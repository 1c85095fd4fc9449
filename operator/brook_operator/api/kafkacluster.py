"""The `KafkaCluster` CR: a Brook cluster (StatefulSet of brokers, Services, config) in one namespace.

`model/` turns a `KafkaClusterSpec` into Kubernetes objects; `reconcilers/cluster.py` applies them and
writes a `KafkaClusterStatus`. Keys that the operator itself sets in the broker config are listed in
`MANAGED_BROKER_CONFIG`; the CRD refuses them with a CEL rule, and the model refuses them too, so a
spec that reaches the builders never fights the operator.
"""

from __future__ import annotations

import enum
from typing import Annotated, Any

from pydantic import Field, field_validator

from brook_operator.api.common import Condition, ConfigValue, CRModel, KubeObject, Quantity

#: The Brook release the operator deploys when `spec.version` is not given.
DEFAULT_VERSION = "0.1.0"

#: How many brokers a KafkaCluster may have today. Brook brokers do not form a cluster yet (no KRaft
#: quorum, no replication between nodes): more replicas would be unconnected single-node brokers.
MAX_SUPPORTED_REPLICAS = 1

#: Broker config keys the operator owns: identity, listeners and storage layout come from the spec.
MANAGED_BROKER_CONFIG: tuple[str, ...] = (
    "node.id",
    "broker.id",
    "process.roles",
    "listeners",
    "advertised.listeners",
    "listener.security.protocol.map",
    "inter.broker.listener.name",
    "controller.listener.names",
    "controller.quorum.voters",
    "controller.quorum.bootstrap.servers",
    "log.dirs",
    "log.dir",
    "metadata.log.dir",
    "broker.rack",
)


class ExternalListenerType(enum.StrEnum):
    NODE_PORT = "NodePort"
    LOAD_BALANCER = "LoadBalancer"


class InternalListener(CRModel):
    """The in-cluster listener: clients inside Kubernetes use the bootstrap Service on this port."""

    port: int = Field(default=9092, ge=1024, le=65535)
    """The port of the bootstrap Service and of each broker."""


class ExternalListener(CRModel):
    """A listener reachable from outside the cluster: one Service per broker plus a bootstrap Service."""

    type: ExternalListenerType
    """NodePort or LoadBalancer."""
    port: int = Field(default=9094, ge=1024, le=65535)
    """The container port of the external listener (and the LoadBalancer port)."""
    node_port_base: int | None = Field(default=None, ge=30000, le=32767)
    """NodePort only: broker N gets node port nodePortBase+N+1 and the bootstrap Service nodePortBase.
    Unset: Kubernetes allocates the ports and the operator advertises what it allocated."""
    annotations: dict[str, str] = Field(default_factory=dict)
    """Annotations for the external Services (for example a cloud load balancer's settings)."""


class Listeners(CRModel):
    """How clients reach the brokers."""

    internal: InternalListener = Field(default_factory=InternalListener)
    """The in-cluster listener (always present)."""
    external: ExternalListener | None = None
    """An optional listener for clients outside Kubernetes."""


class Storage(CRModel):
    """The data volume of each broker (one PersistentVolumeClaim per broker)."""

    size: Quantity = "10Gi"
    """The size of each broker's volume, as a Kubernetes quantity (10Gi)."""
    storage_class: str | None = None
    """The StorageClass of the volumes; unset uses the cluster's default class."""
    delete_claim: bool = False
    """Delete the volumes when the KafkaCluster is deleted. False keeps them (and the data)."""


class Resources(CRModel):
    """Compute resources of the broker container."""

    requests: dict[str, Quantity] = Field(default_factory=dict)
    """Minimum resources, for example cpu: 500m, memory: 1Gi."""
    limits: dict[str, Quantity] = Field(default_factory=dict)
    """Maximum resources."""


class Rack(CRModel):
    """Rack awareness: spread brokers over a node topology and tell each broker its rack."""

    topology_key: str = Field(default="topology.kubernetes.io/zone", min_length=1)
    """The node label brokers are spread over. Its value becomes broker.rack when Kubernetes copies it onto
    the pod (topology.kubernetes.io/zone and /region, PodTopologyLabels, beta since 1.35)."""


class PodTemplate(CRModel):
    """Overrides for the broker pods."""

    labels: dict[str, str] = Field(default_factory=dict)
    """Extra pod labels (the operator's own labels win on conflict)."""
    annotations: dict[str, str] = Field(default_factory=dict)
    """Extra pod annotations."""
    affinity: KubeObject | None = None
    """A core/v1 Affinity for the broker pods."""
    tolerations: list[KubeObject] = Field(default_factory=list)
    """core/v1 Tolerations for the broker pods."""
    node_selector: dict[str, str] = Field(default_factory=dict)
    """Node labels the broker pods must match."""
    priority_class_name: str | None = None
    """The PriorityClass of the broker pods."""
    topology_spread_constraints: list[KubeObject] = Field(default_factory=list)
    """core/v1 TopologySpreadConstraints for the broker pods."""
    termination_grace_period_seconds: int = Field(default=120, ge=10, le=3600)
    """How long a broker may take to shut down cleanly after SIGTERM (flush and close its logs)."""


class KafkaClusterSpec(CRModel):
    """The desired state of a Brook cluster."""

    replicas: int = Field(default=1, ge=1, le=100)
    """The number of brokers. Brook supports 1 until broker clustering lands (more: Ready=False)."""
    version: str = Field(default=DEFAULT_VERSION, pattern=r"^[0-9]+\.[0-9]+\.[0-9]+([-.][0-9A-Za-z.-]+)?$")
    """The Brook version; selects the image tag when image is not set."""
    image: str | None = None
    """A full broker image reference, overriding the one derived from version."""
    listeners: Listeners = Field(default_factory=Listeners)
    """Client listeners."""
    storage: Storage = Field(default_factory=Storage)
    """Broker data volumes."""
    resources: Resources = Field(default_factory=Resources)
    """Compute resources of each broker."""
    config: Annotated[dict[str, ConfigValue], Field(max_length=256)] = Field(default_factory=dict)
    """Broker configuration with Kafka's property names (num.partitions, log.retention.ms, ...). Keys the
    operator manages (node.id, listeners, log.dirs, process.roles, ...) are refused."""
    rack: Rack | None = None
    """Rack awareness; unset means brokers have no broker.rack."""
    pod_template: PodTemplate = Field(default_factory=PodTemplate)
    """Overrides for the broker pods."""

    @field_validator("config")
    @classmethod
    def _no_managed_keys(cls, config: dict[str, str]) -> dict[str, str]:
        managed = sorted(set(config) & set(MANAGED_BROKER_CONFIG))
        if managed:
            raise ValueError(
                f"broker config keys managed by the operator cannot be set: {', '.join(managed)}"
            )
        return config


class ListenerStatus(CRModel):
    """Where clients connect to one listener."""

    name: str
    """internal or external."""
    type: str
    """ClusterIP, NodePort or LoadBalancer."""
    bootstrap_servers: str | None = None
    """A comma-separated host:port list for bootstrap.servers (unset while an address is pending)."""


class KafkaClusterStatus(CRModel):
    """The observed state of a Brook cluster."""

    observed_generation: int | None = None
    """The metadata.generation the operator last reconciled."""
    conditions: list[Condition] = Field(default_factory=list)
    """Ready, Reconciling and Stalled (reasons in docs/operator.md)."""
    replicas: int | None = None
    """Broker pods that exist."""
    ready_replicas: int | None = None
    """Broker pods that are Ready."""
    image: str | None = None
    """The broker image in use."""
    version: str | None = None
    """The Brook version in use."""
    listeners: list[ListenerStatus] = Field(default_factory=list)
    """Client addresses per listener."""
    selector: str | None = None
    """The label selector of the broker pods (for the scale subresource)."""


def parse_spec(spec: dict[str, Any]) -> KafkaClusterSpec:
    """A KafkaCluster's spec as a model (raises pydantic.ValidationError on bad input)."""
    return KafkaClusterSpec.model_validate(spec)
