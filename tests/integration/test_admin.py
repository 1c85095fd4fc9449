"""Admin APIs through real admin clients: confluent-kafka's AdminClient, aiokafka's and kafka-python's.

Topic lifecycle (CreateTopics with validate_only, configs and every refusal Kafka gives;
CreatePartitions; DeleteTopics), configs (DescribeConfigs with synonyms, AlterConfigs,
IncrementalAlterConfigs), DescribeCluster, DescribeLogDirs and DeleteRecords (the low
watermark moves, and readers below it are refused or reset). Error codes are Kafka's, as
the clients decode them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from concurrent.futures import Future
from typing import Any

import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewPartitions, RecordsToDelete
from aiokafka.admin import NewTopic as AioNewTopic
from aiokafka.admin.config_resource import ConfigResource as AioConfigResource
from aiokafka.admin.config_resource import ConfigResourceType
from aiokafka.structs import TopicPartition as AioTopicPartition
from confluent_kafka import KafkaError, KafkaException, TopicCollection, TopicPartition
from confluent_kafka.admin import (
    AclOperation,
    AlterConfigOpType,
    ConfigEntry,
    ConfigResource,
    ConfigSource,
    OffsetSpec,
    ResourceType,
)
from confluent_kafka.admin import NewPartitions as ConfluentNewPartitions
from confluent_kafka.cimpl import NewTopic
from kafka import KafkaAdminClient

from harness.brook import BrookProcess
from harness.kafka_clients import (
    Message,
    admin,
    consume_confluent,
    create_topic,
    produce_confluent,
    wait_until,
)
from harness.kafka_wire import EARLIEST_TIMESTAMP, KafkaWire, fetch, list_offset

OFFSET_OUT_OF_RANGE = 1
TIMEOUT_S = 15


def _error(future: Future[Any]) -> int:
    """The Kafka error code a failed admin future carries, 0 if it succeeded."""
    try:
        future.result(TIMEOUT_S)
    except KafkaException as exc:
        return int(exc.args[0].code())
    return 0


def _topic_configs(bootstrap: str, topic: str) -> dict[str, ConfigEntry]:
    client = admin(bootstrap)
    resource = ConfigResource(ResourceType.TOPIC, topic)
    entries: dict[str, ConfigEntry] = client.describe_configs([resource])[resource].result(TIMEOUT_S)
    return entries


def _synonyms(entry: ConfigEntry) -> list[tuple[str, str | None, int]]:
    return [(s.name, s.value, s.source) for s in entry.synonyms.values()]


def test_create_topics_validates_like_kafka(shared_brook: BrookProcess, unique_topic: str) -> None:
    """validate_only creates nothing; configs are applied; bad names, bad configs, bad partition
    counts and replication factors, and existing names get Kafka's error codes."""
    client = admin(shared_brook.bootstrap)
    checked = client.create_topics([NewTopic(unique_topic, 3, 1)], validate_only=True)
    assert _error(checked[unique_topic]) == 0
    described = client.describe_topics(TopicCollection([unique_topic]))
    assert _error(described[unique_topic]) == KafkaError.UNKNOWN_TOPIC_OR_PART, (
        "validate_only created nothing"
    )

    cases = {
        unique_topic: NewTopic(
            unique_topic, 2, 1, config={"retention.ms": "123456", "cleanup.policy": "compact"}
        ),
        f"{unique_topic}/bad": NewTopic(f"{unique_topic}/bad", 1, 1),
        f"{unique_topic}-bad-value": NewTopic(
            f"{unique_topic}-bad-value", 1, 1, config={"retention.ms": "soon"}
        ),
        f"{unique_topic}-unknown": NewTopic(f"{unique_topic}-unknown", 1, 1, config={"no.such.config": "1"}),
        f"{unique_topic}-no-partitions": NewTopic(f"{unique_topic}-no-partitions", 0, 1),
        f"{unique_topic}-rf3": NewTopic(f"{unique_topic}-rf3", 1, 3),
    }
    results = client.create_topics(list(cases.values()))
    assert {name: _error(future) for name, future in results.items()} == {
        unique_topic: 0,
        f"{unique_topic}/bad": KafkaError.TOPIC_EXCEPTION,
        f"{unique_topic}-bad-value": KafkaError.INVALID_CONFIG,
        f"{unique_topic}-unknown": KafkaError.INVALID_CONFIG,
        f"{unique_topic}-no-partitions": KafkaError.INVALID_PARTITIONS,
        f"{unique_topic}-rf3": KafkaError.INVALID_REPLICATION_FACTOR,
    }
    again = client.create_topics([NewTopic(unique_topic, 1, 1)])
    assert _error(again[unique_topic]) == KafkaError.TOPIC_ALREADY_EXISTS

    configs = _topic_configs(shared_brook.bootstrap, unique_topic)
    assert (configs["retention.ms"].value, configs["retention.ms"].source) == (
        "123456",
        ConfigSource.DYNAMIC_TOPIC_CONFIG.value,
    )
    assert configs["cleanup.policy"].value == "compact"


def test_describe_topics(shared_brook: BrookProcess, unique_topic: str) -> None:
    """DescribeTopics (Metadata underneath): partitions, leader, replicas, ISR and a topic id."""
    create_topic(shared_brook.bootstrap, unique_topic, partitions=3)
    client = admin(shared_brook.bootstrap)
    description = client.describe_topics(TopicCollection([unique_topic]))[unique_topic].result(TIMEOUT_S)
    assert description.name == unique_topic
    assert str(description.topic_id) != "AAAAAAAAAAAAAAAAAAAAAA", "a real topic id"
    assert [p.id for p in description.partitions] == [0, 1, 2]
    for partition in description.partitions:
        assert partition.leader.id == 1
        assert [r.id for r in partition.replicas] == [1]
        assert [r.id for r in partition.isr] == [1]


def test_describe_configs_with_synonyms(shared_brook: BrookProcess, unique_topic: str) -> None:
    """DescribeConfigs v1 (librdkafka asks for synonyms): a topic override lists itself, then the
    broker config that would supply it; defaults name the broker config; broker resources work."""
    create_topic(shared_brook.bootstrap, unique_topic, config={"max.message.bytes": "200000"})
    configs = _topic_configs(shared_brook.bootstrap, unique_topic)
    overridden = configs["max.message.bytes"]
    assert (overridden.value, overridden.source) == ("200000", ConfigSource.DYNAMIC_TOPIC_CONFIG.value)
    assert _synonyms(overridden) == [
        ("max.message.bytes", "200000", ConfigSource.DYNAMIC_TOPIC_CONFIG.value),
        ("message.max.bytes", "1048588", ConfigSource.DEFAULT_CONFIG.value),
    ]
    default = configs["segment.bytes"]
    assert (default.value, default.source) == ("1073741824", ConfigSource.DEFAULT_CONFIG.value)
    assert _synonyms(default) == [("log.segment.bytes", "1073741824", ConfigSource.DEFAULT_CONFIG.value)]

    client = admin(shared_brook.bootstrap)
    broker = ConfigResource(ResourceType.BROKER, "1")
    broker_configs = client.describe_configs([broker])[broker].result(TIMEOUT_S)
    assert broker_configs["log.retention.hours"].value == "168"
    assert broker_configs["node.id"].value == "1"
    assert broker_configs["node.id"].source == ConfigSource.STATIC_BROKER_CONFIG.value


def test_incremental_alter_configs(shared_brook: BrookProcess, unique_topic: str) -> None:
    """IncrementalAlterConfigs SET, APPEND, SUBTRACT and DELETE; validate_only changes nothing."""
    create_topic(shared_brook.bootstrap, unique_topic, config={"retention.ms": "100000"})
    client = admin(shared_brook.bootstrap)

    def alter(*ops: tuple[str, str | None, AlterConfigOpType], validate_only: bool = False) -> int:
        entries = [ConfigEntry(name, value, incremental_operation=op) for name, value, op in ops]
        resource = ConfigResource(ResourceType.TOPIC, unique_topic, incremental_configs=entries)
        return _error(client.incremental_alter_configs([resource], validate_only=validate_only)[resource])

    assert alter(("retention.ms", "1", AlterConfigOpType.SET), validate_only=True) == 0
    assert _topic_configs(shared_brook.bootstrap, unique_topic)["retention.ms"].value == "100000"

    assert (
        alter(
            ("retention.ms", "200000", AlterConfigOpType.SET),
            ("cleanup.policy", "compact", AlterConfigOpType.APPEND),
        )
        == 0
    )
    configs = _topic_configs(shared_brook.bootstrap, unique_topic)
    assert configs["retention.ms"].value == "200000"
    assert configs["cleanup.policy"].value == "delete,compact"

    assert (
        alter(
            ("cleanup.policy", "delete", AlterConfigOpType.SUBTRACT),
            ("retention.ms", None, AlterConfigOpType.DELETE),
        )
        == 0
    )
    configs = _topic_configs(shared_brook.bootstrap, unique_topic)
    assert configs["cleanup.policy"].value == "compact"
    assert (configs["retention.ms"].value, configs["retention.ms"].source) == (
        "604800000",
        ConfigSource.DEFAULT_CONFIG.value,
    )
    assert alter(("retention.ms", "forever", AlterConfigOpType.SET)) == KafkaError.INVALID_CONFIG


def test_alter_configs_replaces_every_override(shared_brook: BrookProcess, unique_topic: str) -> None:
    """Legacy AlterConfigs sets the whole override set: overrides it does not name are removed."""
    create_topic(shared_brook.bootstrap, unique_topic, config={"retention.ms": "100000"})
    client = admin(shared_brook.bootstrap)
    resource = ConfigResource(ResourceType.TOPIC, unique_topic, set_config={"segment.ms": "3600000"})
    with pytest.warns(DeprecationWarning):
        futures = client.alter_configs([resource])
    assert _error(futures[resource]) == 0
    configs = _topic_configs(shared_brook.bootstrap, unique_topic)
    assert (configs["segment.ms"].value, configs["segment.ms"].source) == (
        "3600000",
        ConfigSource.DYNAMIC_TOPIC_CONFIG.value,
    )
    assert configs["retention.ms"].source == ConfigSource.DEFAULT_CONFIG.value


def test_create_partitions(shared_brook: BrookProcess, unique_topic: str) -> None:
    """CreatePartitions grows a topic (new partitions take writes at once); shrinking is refused."""
    create_topic(shared_brook.bootstrap, unique_topic)
    client = admin(shared_brook.bootstrap)
    assert _error(client.create_partitions([ConfluentNewPartitions(unique_topic, 3)])[unique_topic]) == 0
    description = client.describe_topics(TopicCollection([unique_topic]))[unique_topic].result(TIMEOUT_S)
    assert [p.id for p in description.partitions] == [0, 1, 2]
    assert produce_confluent(shared_brook.bootstrap, unique_topic, [Message(value=b"p2")], partition=2) == [0]
    assert [r.value for r in consume_confluent(shared_brook.bootstrap, unique_topic, 1, partition=2)] == [
        b"p2"
    ]
    shrink = client.create_partitions([ConfluentNewPartitions(unique_topic, 2)])[unique_topic]
    assert _error(shrink) == KafkaError.INVALID_PARTITIONS


def test_delete_topics(shared_brook: BrookProcess, unique_topic: str) -> None:
    """DeleteTopics removes the topic from metadata and its directory from disk; an unknown topic is
    UNKNOWN_TOPIC_OR_PARTITION; the name can be created again, empty."""
    create_topic(shared_brook.bootstrap, unique_topic, config={"file.delete.delay.ms": "0"})
    produce_confluent(shared_brook.bootstrap, unique_topic, [Message(value=b"old")])
    logs = shared_brook.data_dir / "logs"
    assert (logs / f"{unique_topic}-0").is_dir()
    client = admin(shared_brook.bootstrap)
    results = client.delete_topics([unique_topic, f"{unique_topic}-missing"], operation_timeout=10)
    assert _error(results[unique_topic]) == 0
    assert _error(results[f"{unique_topic}-missing"]) == KafkaError.UNKNOWN_TOPIC_OR_PART
    described = client.describe_topics(TopicCollection([unique_topic]))[unique_topic]
    assert _error(described) == KafkaError.UNKNOWN_TOPIC_OR_PART
    wait_until(
        lambda: not any(p.name.startswith(f"{unique_topic}-0") for p in logs.iterdir()),
        timeout_s=TIMEOUT_S,
        what="the deleted partition's directory to disappear",
    )
    create_topic(shared_brook.bootstrap, unique_topic)
    with KafkaWire.connect(shared_brook.bootstrap) as wire:
        assert fetch(wire, unique_topic, offset=0).high_watermark == 0, "the re-created topic starts empty"


def test_describe_cluster(shared_brook: BrookProcess) -> None:
    """DescribeCluster through librdkafka and kafka-python: the cluster id, this broker as controller,
    and (without an authorizer) every cluster operation authorized."""
    client = admin(shared_brook.bootstrap)
    result = client.describe_cluster(include_authorized_operations=True).result(TIMEOUT_S)
    assert result.cluster_id
    assert result.controller.id == 1
    assert [(n.id, n.host, n.port) for n in result.nodes] == [(1, "127.0.0.1", shared_brook.port)]
    # librdkafka asks Metadata v10 for them; no authorizer means every cluster operation.
    assert {AclOperation.DESCRIBE, AclOperation.ALTER, AclOperation.IDEMPOTENT_WRITE} <= set(
        result.authorized_operations or ()
    )

    kafka_python = KafkaAdminClient(bootstrap_servers=shared_brook.bootstrap)
    try:
        described = kafka_python.describe_cluster()
    finally:
        kafka_python.close()
    assert described["cluster_id"] == result.cluster_id
    assert described["controller_id"] == 1
    assert [(b["broker_id"], b["port"]) for b in described["brokers"]] == [(1, shared_brook.port)]


def test_describe_log_dirs(shared_brook: BrookProcess, unique_topic: str) -> None:
    """DescribeLogDirs (kafka-python's admin): our log dir, with each partition's size on disk."""
    create_topic(shared_brook.bootstrap, unique_topic, partitions=2)
    produce_confluent(shared_brook.bootstrap, unique_topic, [Message(value=b"x" * 1000)] * 5)
    client = KafkaAdminClient(bootstrap_servers=shared_brook.bootstrap)
    try:
        answer = client.describe_log_dirs(topic_partitions={unique_topic: [0, 1]})
    finally:
        client.close()
    [(broker_answer)] = answer
    [log_dir] = broker_answer["log_dirs"]
    assert log_dir["error_code"] == 0
    assert log_dir["log_dir"] == str(shared_brook.data_dir / "logs")
    sizes = {
        p["partition_index"]: p["partition_size"]
        for t in log_dir["topics"]
        if t["name"] == unique_topic
        for p in t["partitions"]
    }
    assert sizes[0] > 5000 and sizes[1] == 0


def test_delete_records_moves_the_low_watermark(shared_brook: BrookProcess, unique_topic: str) -> None:
    """DeleteRecords: the low watermark moves, ListOffsets earliest follows, a fetch below it is
    OFFSET_OUT_OF_RANGE, and a consumer starting below it is reset to it (auto.offset.reset)."""
    create_topic(shared_brook.bootstrap, unique_topic)
    produce_confluent(
        shared_brook.bootstrap, unique_topic, [Message(value=f"v{i}".encode()) for i in range(10)]
    )
    client = admin(shared_brook.bootstrap)
    deleted = client.delete_records([TopicPartition(unique_topic, 0, 4)])
    [future] = deleted.values()
    assert future.result(TIMEOUT_S).low_watermark == 4
    earliest = client.list_offsets({TopicPartition(unique_topic, 0): OffsetSpec.earliest()})
    [listed] = earliest.values()
    assert listed.result(TIMEOUT_S).offset == 4

    with KafkaWire.connect(shared_brook.bootstrap) as wire:
        below = fetch(wire, unique_topic, offset=2)
        assert below.error_code == OFFSET_OUT_OF_RANGE
        assert list_offset(wire, unique_topic, EARLIEST_TIMESTAMP)[0] == 4

    got = consume_confluent(
        shared_brook.bootstrap, unique_topic, 6, offset=2, config={"auto.offset.reset": "earliest"}
    )
    assert [(r.offset, r.value) for r in got] == [(i, f"v{i}".encode()) for i in range(4, 10)]

    everything = client.delete_records([TopicPartition(unique_topic, 0, -1)])  # -1: up to the high watermark
    [future] = everything.values()
    assert future.result(TIMEOUT_S).low_watermark == 10
    beyond = client.delete_records([TopicPartition(unique_topic, 0, 11)])
    [future] = beyond.values()
    assert _error(future) == KafkaError.OFFSET_OUT_OF_RANGE


async def test_aiokafka_admin(shared_brook: BrookProcess, unique_topic: str) -> None:
    """aiokafka's admin client (older, non-flexible API versions): create with configs, describe and
    alter configs, add partitions, delete records, describe the cluster, delete the topic."""
    client = AIOKafkaAdminClient(bootstrap_servers=shared_brook.bootstrap)
    await client.start()
    try:
        created = await client.create_topics(
            [AioNewTopic(unique_topic, 1, 1, topic_configs={"retention.ms": "1000000"})]
        )
        assert [e[1] for e in created.topic_errors] == [0]

        def values(responses: Any) -> Mapping[str, str]:
            [response] = responses
            [resource] = response.resources
            assert resource[0] == 0
            return {entry[0]: entry[1] for entry in resource[4]}

        resource = AioConfigResource(ConfigResourceType.TOPIC, unique_topic)
        assert values(await client.describe_configs([resource]))["retention.ms"] == "1000000"
        altered = await client.alter_configs(
            [AioConfigResource(ConfigResourceType.TOPIC, unique_topic, configs={"retention.ms": "2000000"})]
        )
        assert [r[0] for r in altered[0].resources] == [0]
        assert values(await client.describe_configs([resource]))["retention.ms"] == "2000000"

        grown = await client.create_partitions({unique_topic: NewPartitions(2)})
        assert [e[1] for e in grown.topic_errors] == [0]

        await asyncio.to_thread(
            produce_confluent, shared_brook.bootstrap, unique_topic, [Message(value=b"v")] * 6
        )
        low = await client.delete_records({AioTopicPartition(unique_topic, 0): RecordsToDelete(5)})
        assert low == {AioTopicPartition(unique_topic, 0): 5}

        cluster = await client.describe_cluster()
        assert cluster["controller_id"] == 1
        assert [b["node_id"] for b in cluster["brokers"]] == [1]

        deleted = await client.delete_topics([unique_topic])
        assert [e[1] for e in deleted.topic_error_codes] == [0]
        assert unique_topic not in await client.list_topics()
    finally:
        await client.close()
