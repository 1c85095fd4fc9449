"""DescribeCluster (key 60): cluster id, controller and brokers for the Admin client (KIP-700)."""

from __future__ import annotations

from typing import Any

from kio.schema.describe_cluster.v2.response import DescribeClusterBroker, DescribeClusterResponse
from kio.schema.types import BrokerId
from kio.static.primitive import i8, i32

from brook_broker.apis.context import RequestContext
from brook_broker.apis.metadata import CLUSTER_AUTHORIZED_OPERATIONS, OPERATIONS_NOT_REQUESTED, brokers_for
from brook_broker.apis.registry import api
from brook_broker.protocol import codec
from brook_broker.protocol.errors import ErrorCode

BROKER_ENDPOINTS = 1


@api(60, min_version=0, max_version=2)
async def handle_describe_cluster(context: RequestContext, request: Any) -> DescribeClusterResponse:
    services = context.services
    endpoint_type = getattr(request, "endpoint_type", BROKER_ENDPOINTS)
    brokers = tuple(
        DescribeClusterBroker(broker_id=b.node_id, host=b.host, port=b.port, rack=b.rack, is_fenced=False)
        for b in brokers_for(services, context.listener)
    )
    if endpoint_type != BROKER_ENDPOINTS:
        # Controllers are not reachable through a broker listener (Kafka answers the same).
        return DescribeClusterResponse(
            throttle_time=codec.NO_THROTTLE,
            error_code=ErrorCode.unsupported_endpoint_type,
            error_message="The broker does not serve controller endpoints.",
            endpoint_type=i8(endpoint_type),
            cluster_id=services.cluster_id,
            controller_id=BrokerId(-1),
            brokers=(),
            cluster_authorized_operations=i32(OPERATIONS_NOT_REQUESTED),
        )
    operations = (
        CLUSTER_AUTHORIZED_OPERATIONS
        if request.include_cluster_authorized_operations
        else OPERATIONS_NOT_REQUESTED
    )
    return DescribeClusterResponse(
        throttle_time=codec.NO_THROTTLE,
        error_code=ErrorCode.none,
        error_message=None,
        endpoint_type=i8(BROKER_ENDPOINTS),
        cluster_id=services.cluster_id,
        controller_id=BrokerId(services.node_id),
        brokers=brokers,
        cluster_authorized_operations=i32(operations),
    )
