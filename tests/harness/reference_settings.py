"""A Brook that answers like the reference Kafka: the same cluster-wide server.properties entries.

The reference Kafka (harness.node) runs with a few settings that differ from Kafka's defaults
(num.partitions=1, internal topics sized for one node, no initial rebalance delay). Those are
*static* broker configs there, so DescribeConfigs reports them with source
STATIC_BROKER_CONFIG; a Brook compared with it (the differential suite, the tools checks) must
be started with the same entries or every such comparison differs for a trivial reason.
"""

from __future__ import annotations

from pathlib import Path

from harness.brook import BrookProcess
from harness.node import server_properties

#: The reference node's settings Brook sets its own way (its own ports and data directory).
NODE_LOCAL = frozenset(
    {
        "process.roles",
        "node.id",
        "listeners",
        "advertised.listeners",
        "listener.security.protocol.map",
        "controller.listener.names",
        "inter.broker.listener.name",
        "log.dirs",
    }
)
NODE_ID = 1


def reference_settings() -> dict[str, str]:
    """The reference Kafka's server.properties without the node-local entries."""
    props = server_properties(
        node_id=NODE_ID, port=0, controller_port=0, log_dir=Path("unused"), quorum={}, cluster_size=1
    )
    return {key: value for key, value in props.items() if key not in NODE_LOCAL}


def start_brook_like_kafka(data_dir: Path) -> BrookProcess:
    """A Brook (node.id 1, like the reference node) with the reference Kafka's settings."""
    overrides = {**reference_settings(), "node.id": str(NODE_ID)}
    return BrookProcess(data_dir=data_dir, overrides=overrides).start()
