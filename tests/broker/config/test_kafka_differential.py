"""`config` against a real Apache Kafka 4.x: same CreateTopics errors, same DescribeConfigs answers.

The reference broker (`kafka_ref`, tests/harness) is described over the wire with kio; Brook's
answer is computed from the same server.properties (and the cluster-level dynamic defaults that
Kafka writes at format time, read back from Kafka), so the two must agree entry for entry.
"""

from __future__ import annotations

import io
import socket
import struct
import time
import uuid
from typing import Any

import pytest
from kio.schema.create_topics.v5.request import CreatableTopic, CreatableTopicConfig, CreateTopicsRequest
from kio.schema.create_topics.v5.response import CreateTopicsResponse
from kio.schema.describe_configs.v4.request import DescribeConfigsRequest, DescribeConfigsResource
from kio.schema.describe_configs.v4.response import DescribeConfigsResponse, DescribeConfigsResult
from kio.schema.incremental_alter_configs.v1.request import (
    AlterableConfig,
    AlterConfigsResource,
    IncrementalAlterConfigsRequest,
)
from kio.schema.incremental_alter_configs.v1.response import IncrementalAlterConfigsResponse
from kio.schema.request_header.v2.header import RequestHeader
from kio.schema.response_header.v1.header import ResponseHeader
from kio.serial import entity_reader, entity_writer
from kio.static.primitive import i8, i16, i32

from brook_broker.config.broker import BrokerConfig
from brook_broker.config.configdef import ConfigError
from brook_broker.config.describe import ConfigEntry, describe_broker_configs, describe_topic_configs
from brook_broker.config.layers import BrokerLayers
from brook_broker.config.topic import AlterConfigOp, AlterOp, TopicConfigs, validate_overrides
from harness import KafkaServer

pytestmark = [pytest.mark.kafka_ref, pytest.mark.xdist_group("kafka_ref")]

TOPIC, BROKER = 2, 4
# Brook's laptop defaults differ from Kafka's on purpose (see config.broker_definitions).
BROOK_DEFAULTS = {"listeners", "log.dir"}


def _call(server: KafkaServer, request: Any, response_type: Any) -> Any:
    buf = io.BytesIO()
    header = RequestHeader(
        request_api_key=request.__api_key__,
        request_api_version=request.__version__,
        correlation_id=i32(1),
        client_id="brook-config-test",
    )
    entity_writer(RequestHeader)(buf, header)
    entity_writer(type(request))(buf, request)
    frame = buf.getvalue()
    host, port = server.bootstrap.rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall(struct.pack(">i", len(frame)) + frame)
        data = b""
        while len(data) < 4 or len(data) < 4 + struct.unpack(">i", data[:4])[0]:
            chunk = sock.recv(1 << 16)
            assert chunk, "broker closed the connection"
            data += chunk
    _, offset = entity_reader(ResponseHeader)(data, 4)
    response, _ = entity_reader(response_type)(data, 4 + offset)
    return response


def _create_topic(server: KafkaServer, name: str, configs: dict[str, str], *, validate_only: bool) -> Any:
    topic = CreatableTopic(
        name=name,  # type: ignore[arg-type]
        num_partitions=i32(1),
        replication_factor=i16(1),
        assignments=(),
        configs=tuple(CreatableTopicConfig(name=k, value=v) for k, v in configs.items()),
    )
    response = _call(
        server, CreateTopicsRequest(topics=(topic,), validate_only=validate_only), CreateTopicsResponse
    )
    return response.topics[0]


def _describe(server: KafkaServer, resource_type: int, name: str) -> DescribeConfigsResult:
    resource = DescribeConfigsResource(
        resource_type=i8(resource_type), resource_name=name, configuration_keys=None
    )
    request = DescribeConfigsRequest(resources=(resource,), include_synonyms=True)
    deadline = time.monotonic() + 10
    while True:
        result: DescribeConfigsResult = _call(server, request, DescribeConfigsResponse).results[0]
        # A topic just created may not have reached this broker's metadata yet (UNKNOWN_TOPIC_OR_PARTITION).
        if result.error_code != 3 or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert result.error_code == 0, result.error_message
    return result


def _kafka_entries(result: DescribeConfigsResult) -> dict[str, tuple[object, ...]]:
    return {
        c.name: (
            c.value,
            int(c.config_source),
            c.read_only,
            c.is_sensitive,
            int(c.config_type),
            [(s.name, s.value, int(s.source)) for s in c.synonyms],
        )
        for c in result.configs
    }


def _brook_entries(entries: list[ConfigEntry]) -> dict[str, tuple[object, ...]]:
    return {
        e.name: (
            e.value,
            int(e.source),
            e.read_only,
            e.is_sensitive,
            e.config_type_id,
            [(s.name, s.value, int(s.source)) for s in e.synonyms],
        )
        for e in entries
    }


@pytest.fixture(scope="module")
def layers(kafka_ref: KafkaServer) -> BrokerLayers:
    """Brook's view of the reference broker: its properties plus Kafka's dynamic cluster defaults."""
    defaults = {c.name: c.value for c in _describe(kafka_ref, BROKER, "").configs if c.value is not None}
    return BrokerLayers(BrokerConfig.from_properties(kafka_ref.node.properties), dynamic_default=defaults)


@pytest.mark.parametrize(
    "configs",
    [
        pytest.param({"segment.bytes": "100"}, id="below minimum"),
        pytest.param({"retention.ms": "soon"}, id="not a number"),
        pytest.param({"cleanup.policy": "compact,remove"}, id="bad list element"),
        pytest.param({"cleanup.policy": "delete,,compact"}, id="empty list element"),
        pytest.param({"message.timestamp.type": "createtime"}, id="case matters"),
        pytest.param({"compression.gzip.level": "0"}, id="gzip level"),
        pytest.param({"min.cleanable.dirty.ratio": "2"}, id="ratio"),
        pytest.param({"preallocate": "yes"}, id="boolean"),
        pytest.param({"no.such.config": "1"}, id="unknown"),
        pytest.param({"message.downconversion.enable": "true"}, id="removed in 4.0"),
        pytest.param({"min.compaction.lag.ms": "10", "max.compaction.lag.ms": "5"}, id="lag conflict"),
        pytest.param({"remote.storage.enable": "true"}, id="tiered storage"),
        pytest.param({"leader.replication.throttled.replicas": "x"}, id="throttled replicas"),
    ],
)
def test_create_topic_errors_match(
    kafka_ref: KafkaServer, layers: BrokerLayers, configs: dict[str, str]
) -> None:
    result = _create_topic(kafka_ref, f"bad-{uuid.uuid4().hex[:8]}", configs, validate_only=True)
    with pytest.raises(ConfigError) as error:
        validate_overrides(configs, broker=layers)
    assert (int(result.error_code), result.error_message) == (error.value.error_code, str(error.value))


@pytest.mark.parametrize(
    "configs",
    [
        {"cleanup.policy": "delete,compact,delete"},
        {"retention.ms": " 100 ", "segment.ms": "+1000"},
        {"leader.replication.throttled.replicas": "0:1, 1:1", "max.message.bytes": "0"},
    ],
)
def test_create_topic_accepts_the_same(
    kafka_ref: KafkaServer, layers: BrokerLayers, configs: dict[str, str]
) -> None:
    result = _create_topic(kafka_ref, f"ok-{uuid.uuid4().hex[:8]}", configs, validate_only=True)
    assert (int(result.error_code), result.error_message) == (0, None)
    validate_overrides(configs, broker=layers)


def test_describe_topic_matches(kafka_ref: KafkaServer, layers: BrokerLayers) -> None:
    overrides = {"retention.ms": "1000", "segment.bytes": "1048576", "cleanup.policy": "compact,delete"}
    name = f"described-{uuid.uuid4().hex[:8]}"
    assert int(_create_topic(kafka_ref, name, overrides, validate_only=False).error_code) == 0
    kafka = _kafka_entries(_describe(kafka_ref, TOPIC, name))
    brook = _brook_entries(
        describe_topic_configs(overrides=validate_overrides(overrides, broker=layers), layers=layers)
    )
    assert brook == kafka


def test_describe_broker_matches(kafka_ref: KafkaServer, layers: BrokerLayers) -> None:
    kafka = _kafka_entries(_describe(kafka_ref, BROKER, str(kafka_ref.node.node_id)))
    brook = _brook_entries(describe_broker_configs(layers=layers))
    known = set(brook) & set(kafka) - BROOK_DEFAULTS - layers.broker.unknown_configs.keys()
    assert len(known) > 100
    assert {name: brook[name] for name in known} == {name: kafka[name] for name in known}


def _alter(server: KafkaServer, topic: str, ops: list[AlterConfigOp]) -> tuple[int, str | None]:
    configs = tuple(AlterableConfig(name=op.name, config_operation=i8(op.op), value=op.value) for op in ops)
    resource = AlterConfigsResource(resource_type=i8(TOPIC), resource_name=topic, configs=configs)
    request = IncrementalAlterConfigsRequest(resources=(resource,), validate_only=False)
    result = _call(server, request, IncrementalAlterConfigsResponse).responses[0]
    return int(result.error_code), result.error_message


@pytest.mark.parametrize(
    ("start", "ops"),
    [
        pytest.param(
            {}, [AlterConfigOp("cleanup.policy", AlterOp.APPEND, "compact")], id="append to the default"
        ),
        pytest.param(
            {"cleanup.policy": "compact,delete"},
            [AlterConfigOp("cleanup.policy", AlterOp.SUBTRACT, "delete,none")],
            id="subtract",
        ),
        pytest.param(
            {"segment.ms": "600000"},
            [
                AlterConfigOp("leader.replication.throttled.replicas", AlterOp.APPEND, "0:1,0:2"),
                AlterConfigOp("retention.ms", AlterOp.SET, "5000"),
                AlterConfigOp("segment.ms", AlterOp.DELETE),
            ],
            id="mixed",
        ),
        pytest.param({}, [AlterConfigOp("retention.ms", AlterOp.APPEND, "1")], id="append to a scalar"),
        pytest.param({}, [AlterConfigOp("retention.ms", AlterOp.SET)], id="set null"),
        pytest.param({}, [AlterConfigOp("retention.ms", AlterOp.SET, "-7")], id="set invalid"),
        pytest.param({}, [AlterConfigOp("retention", AlterOp.SET, "1")], id="unknown name"),
    ],
)
def test_incremental_alter_matches(
    kafka_ref: KafkaServer, layers: BrokerLayers, start: dict[str, str], ops: list[AlterConfigOp]
) -> None:
    name = f"altered-{uuid.uuid4().hex[:8]}"
    assert int(_create_topic(kafka_ref, name, start, validate_only=False).error_code) == 0
    code, message = _alter(kafka_ref, name, ops)
    try:
        overrides = TopicConfigs(layers).alter(start, ops)
    except ConfigError as error:
        assert (code, message) == (error.error_code, str(error))
        return
    assert (code, message) == (0, None)
    brook = _brook_entries(describe_topic_configs(overrides=overrides, layers=layers))
    # The broker applies the controller's committed change a moment later, from the metadata log.
    deadline = time.monotonic() + 10
    while (
        kafka := _kafka_entries(_describe(kafka_ref, TOPIC, name))
    ) != brook and time.monotonic() < deadline:
        time.sleep(0.1)
    assert brook == kafka
