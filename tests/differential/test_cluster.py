"""Cluster-level requests side by side: DescribeCluster, DescribeLogDirs and OffsetForLeaderEpoch.

What admin clients (`describeCluster`, `describeLogDirs`) and replicating or truncating
clients (OffsetForLeaderEpoch) see: ids, endpoints, per-partition sizes and epoch end offsets.
"""

from __future__ import annotations

import pytest
from differential import admin
from differential.framework import Observation, Scenario, Target, plain, run_scenario, scenario
from kio.schema.describe_cluster.v2.request import DescribeClusterRequest
from kio.schema.describe_log_dirs.v4.request import DescribableLogDirTopic, DescribeLogDirsRequest
from kio.schema.offset_for_leader_epoch.v4.request import (
    OffsetForLeaderEpochRequest,
    OffsetForLeaderPartition,
    OffsetForLeaderTopic,
)
from kio.schema.types import BrokerId, TopicName
from kio.static.primitive import i8, i32

from harness.kafka_wire import new_batch

pytestmark = [pytest.mark.kafka_ref, pytest.mark.xdist_group("kafka_ref")]

BROKERS_ENDPOINT, CONTROLLERS_ENDPOINT = 1, 2


def test_same_as_kafka(scenario: Scenario, targets: dict[str, Target]) -> None:
    run_scenario(scenario, targets)


@scenario
def describe_cluster(t: Target) -> Observation:
    """DescribeCluster v2 for broker endpoints: the cluster id, this broker as controller and only broker,
    its advertised endpoint, no rack, not fenced."""
    request = DescribeClusterRequest(
        include_cluster_authorized_operations=False,
        endpoint_type=i8(BROKERS_ENDPOINT),
        include_fenced_brokers=True,
    )
    response = t.call(request)
    return {
        "error_code": plain(response.error_code),
        "error_message": response.error_message,
        "endpoint_type": int(response.endpoint_type),
        "cluster_id_present": bool(response.cluster_id),
        "controller": t.node(response.controller_id),
        "brokers": [
            {
                "node": t.node(b.broker_id),
                "address_matches": f"{b.host}:{b.port}" == t.bootstrap,
                "rack": b.rack,
                "fenced": b.is_fenced,
            }
            for b in response.brokers
        ],
        "authorized_operations": int(response.cluster_authorized_operations),
    }


@scenario
def describe_log_dirs(t: Target) -> Observation:
    """DescribeLogDirs for one topic: one log dir, no error, each partition's size (the same batches take
    the same bytes), no lag, nothing future; a missing topic's partitions are left out."""
    name = t.topic()
    admin.create_topic(t, name, partitions=2)
    admin.produce(t, name, {0: new_batch([b"a", b"bb", b"ccc"], timestamp_ms=1000)})
    admin.produce(t, name, {0: new_batch([b"d"], timestamp_ms=2000), 1: new_batch([b"e"], timestamp_ms=3000)})
    request = DescribeLogDirsRequest(
        topics=(
            DescribableLogDirTopic(topic=TopicName(name), partitions=(i32(0), i32(1), i32(5))),
            DescribableLogDirTopic(topic=TopicName(t.topic("missing")), partitions=(i32(0),)),
        )
    )
    response = t.call(request)
    return {
        "error_code": plain(response.error_code),
        "log_dirs": [
            {
                "error_code": plain(result.error_code),
                "absolute_path": result.log_dir.startswith("/"),
                "space_known": int(result.total_bytes) > 0
                and 0 <= int(result.usable_bytes) <= int(result.total_bytes),
                "topics": {
                    topic.name: sorted(
                        (int(p.partition_index), int(p.partition_size), int(p.offset_lag), p.is_future_key)
                        for p in topic.partitions
                    )
                    for topic in result.topics
                },
            }
            for result in response.results
        ],
    }


@scenario
def offset_for_leader_epoch(t: Target) -> Observation:
    """OffsetForLeaderEpoch v4 as a consumer: the end offset of the current epoch (the log end), of an
    epoch newer than the leader's, with a fenced or unknown current epoch, and for unknown partitions."""
    name = t.topic()
    admin.create_topic(t, name, partitions=2)
    admin.produce(t, name, {0: new_batch([b"a", b"b"], timestamp_ms=1000)})
    queries = [(0, -1, 0), (0, -1, 7), (1, -1, 0), (0, 3, 0), (0, 0, 0), (9, -1, 0)]
    request = OffsetForLeaderEpochRequest(
        replica_id=BrokerId(-1),
        topics=(
            OffsetForLeaderTopic(
                topic=TopicName(name),
                partitions=tuple(
                    OffsetForLeaderPartition(
                        partition=i32(p), current_leader_epoch=i32(current), leader_epoch=i32(epoch)
                    )
                    for p, current, epoch in queries
                ),
            ),
            OffsetForLeaderTopic(
                topic=TopicName(t.topic("missing")),
                partitions=(
                    OffsetForLeaderPartition(
                        partition=i32(0), current_leader_epoch=i32(-1), leader_epoch=i32(0)
                    ),
                ),
            ),
        ),
    )
    response = t.call(request)
    answers = {
        topic.topic: [
            (int(p.partition), plain(p.error_code), int(p.leader_epoch), int(p.end_offset))
            for p in topic.partitions
        ]
        for topic in response.topics
    }
    # One answer per query, in the order asked (a partition may be asked twice).
    return {"queries": [list(q) for q in queries], "answers": answers}
