"""What a handler sees: the request's origin and the broker's services.

`BrokerServices` is built once by the server and shared by every connection; handlers
reach the replica manager, controller and configs through it rather than through globals,
so a test can run two brokers in one process.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from brook_broker.config.layers import BrokerLayers
from brook_broker.config.topic import TopicConfigs
from brook_broker.metadata.records import BROKER_RESOURCE
from brook_broker.protocol.codec import RequestHeader

if TYPE_CHECKING:
    from brook_broker.config.broker import BrokerConfig
    from brook_broker.coordinator.group.coordinator import GroupCoordinator
    from brook_broker.coordinator.producer_id_manager import ProducerIdManager
    from brook_broker.log.manager import LogManager
    from brook_broker.metadata.controller import QuorumController
    from brook_broker.metadata.image import MetadataImage
    from brook_broker.replication.replica_manager import ReplicaManager


@dataclasses.dataclass(frozen=True, slots=True)
class Endpoint:
    """An advertised listener address, as Metadata and DescribeCluster return it."""

    listener: str
    host: str
    port: int


@dataclasses.dataclass(slots=True)
class BrokerServices:
    node_id: int
    cluster_id: str
    config: BrokerConfig
    image: MetadataImage
    controller: QuorumController
    replica_manager: ReplicaManager
    log_manager: LogManager
    producer_ids: ProducerIdManager
    group_coordinator: GroupCoordinator
    #: Advertised endpoints by listener name.
    endpoints: dict[str, Endpoint]
    rack: str | None = None

    def config_layers(self) -> BrokerLayers:
        """Static config plus the dynamic broker configs the metadata log holds."""
        return broker_layers(self.config, self.image)

    def topic_configs(self) -> TopicConfigs:
        return TopicConfigs(self.config_layers())


def broker_layers(config: BrokerConfig, image: MetadataImage) -> BrokerLayers:
    return BrokerLayers(
        broker=config,
        dynamic_broker=image.configs.get((BROKER_RESOURCE, str(config.node_id)), {}),
        dynamic_default=image.configs.get((BROKER_RESOURCE, ""), {}),
    )


@dataclasses.dataclass(slots=True)
class RequestContext:
    header: RequestHeader
    services: BrokerServices
    listener: str
    client_host: str

    @property
    def api_version(self) -> int:
        return self.header.api_version
