"""The admin layer of Brook's client side: typed topic operations against any Kafka broker.

Called by the `brook topics`, `produce` and `consume` commands (and meant to be reused by the
operator's admin code). It owns nothing CLI-specific: callers get frozen dataclasses back and
three exception types to present as they like (`KafkaApiError` here, `BrokerUnreachableError`
and `BrokerTimeoutError` from `cli.connection`). Connections are aiokafka's `AIOKafkaClient`;
the requests are kio's generated classes (see `cli.kio_transport` for why not aiokafka's).

Every call is bounded by `ConnectionSettings.timeout_s`, and reaching the first broker by
`connection.CONNECT_TIMEOUT_S`, so an unreachable or silent broker fails in seconds.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime
import enum
import re
import uuid
from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import Any, Self, TypeVar

from aiokafka.client import AIOKafkaClient
from aiokafka.errors import KafkaConnectionError, NodeNotReadyError, RequestTimedOutError, for_code
from kio.schema.create_partitions.v3.request import CreatePartitionsRequest, CreatePartitionsTopic
from kio.schema.create_partitions.v3.response import CreatePartitionsResponse
from kio.schema.create_topics.v7.request import CreatableTopic, CreatableTopicConfig, CreateTopicsRequest
from kio.schema.create_topics.v7.response import CreateTopicsResponse
from kio.schema.delete_topics.v6.request import DeleteTopicsRequest, DeleteTopicState
from kio.schema.delete_topics.v6.response import DeleteTopicsResponse
from kio.schema.describe_configs.v4.request import DescribeConfigsRequest, DescribeConfigsResource
from kio.schema.describe_configs.v4.response import DescribeConfigsResponse
from kio.schema.errors import ErrorCode
from kio.schema.incremental_alter_configs.v1.request import (
    AlterableConfig,
    AlterConfigsResource,
    IncrementalAlterConfigsRequest,
)
from kio.schema.incremental_alter_configs.v1.response import IncrementalAlterConfigsResponse
from kio.schema.metadata.v12.request import MetadataRequest, MetadataRequestTopic
from kio.schema.metadata.v12.response import MetadataResponse
from kio.schema.types import TopicName
from kio.static.primitive import i8, i16, i32, i32Timedelta

from brook_broker.cli.connection import (
    BrokerTimeoutError,
    BrokerUnreachableError,
    ConnectionSettings,
    open_client,
)
from brook_broker.cli.kio_transport import KioRequest, UnsupportedApiVersionError, expect

#: Kafka's ConfigResource.Type.TOPIC and the AlterConfigOp.OpType codes.
TOPIC_RESOURCE = i8(2)
_OP_SET, _OP_DELETE = i8(0), i8(1)

T = TypeVar("T")


class ConfigSource(enum.IntEnum):
    """Where a config value comes from (DescribeConfigs ``config_source``)."""

    UNKNOWN = 0
    DYNAMIC_TOPIC_CONFIG = 1
    DYNAMIC_BROKER_CONFIG = 2
    DYNAMIC_DEFAULT_BROKER_CONFIG = 3
    STATIC_BROKER_CONFIG = 4
    DEFAULT_CONFIG = 5
    DYNAMIC_BROKER_LOGGER_CONFIG = 6


@dataclasses.dataclass(frozen=True, slots=True)
class PartitionState:
    partition: int
    leader: int
    replicas: tuple[int, ...]
    isr: tuple[int, ...]
    offline_replicas: tuple[int, ...]


@dataclasses.dataclass(frozen=True, slots=True)
class TopicDescription:
    name: str
    topic_id: uuid.UUID | None
    internal: bool
    partitions: tuple[PartitionState, ...]

    @property
    def replication_factor(self) -> int:
        return len(self.partitions[0].replicas) if self.partitions else 0


@dataclasses.dataclass(frozen=True, slots=True)
class ConfigEntry:
    name: str
    value: str | None
    source: ConfigSource
    read_only: bool
    sensitive: bool

    @property
    def is_default(self) -> bool:
        return self.source == ConfigSource.DEFAULT_CONFIG


@dataclasses.dataclass(frozen=True, slots=True)
class CreatedTopic:
    name: str
    topic_id: uuid.UUID | None
    partitions: int
    replication_factor: int


class KafkaApiError(Exception):
    """A Kafka error code in a response, with the broker's message when it sent one.

    ``kind`` and ``name`` say what the request was about (``topic``, ``hello-kafka``).
    """

    #: Clearer than the generic texts brokers send for these codes.
    _TEMPLATES: Mapping[ErrorCode, str] = {
        ErrorCode.unknown_topic_or_partition: "{kind} '{name}' does not exist",
        ErrorCode.topic_already_exists: "{kind} '{name}' already exists",
        ErrorCode.message_too_large: "record too large for {kind} '{name}'",
    }

    def __init__(
        self, code: ErrorCode, message: str | None = None, *, kind: str = "topic", name: str | None = None
    ) -> None:
        self.code = code
        self.message = message
        self.kind = kind
        self.name = name
        super().__init__(self.describe())

    @property
    def error_name(self) -> str:
        """Kafka's name of the error, e.g. ``TOPIC_ALREADY_EXISTS``."""
        return self.code.name.upper()

    def describe(self) -> str:
        template = self._TEMPLATES.get(self.code)
        if template and self.name is not None:
            text = template.format(kind=self.kind, name=self.name)
        else:
            text = _sentence_fragment(self.message or _aiokafka_description(self.code))
            if self.name is not None and not _mentions(text, self.name):
                text = f"{self.kind} '{self.name}': {text}"
        return f"{text} ({self.error_name})"


class Admin:
    """Topic administration over one aiokafka client: ``async with Admin(settings) as admin``."""

    def __init__(self, settings: ConnectionSettings) -> None:
        self.settings = settings
        self._client: AIOKafkaClient | None = None

    async def __aenter__(self) -> Self:
        self._client = await open_client(self.settings)
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None

    # --- reading ------------------------------------------------------------------------

    async def describe_topics(
        self, names: Sequence[str] | None = None, *, allow_auto_create: bool = False
    ) -> list[TopicDescription]:
        """The named topics (all topics for ``None``); `KafkaApiError` for the first that fails."""
        topics = (
            None
            if names is None
            else tuple(MetadataRequestTopic(topic_id=None, name=TopicName(n)) for n in names)
        )
        request = MetadataRequest(
            topics=topics,
            allow_auto_topic_creation=allow_auto_create,
            include_topic_authorized_operations=False,
        )
        response = await self._send(request, MetadataResponse)
        described = []
        for topic in response.topics:
            if topic.error_code != ErrorCode.none:
                raise KafkaApiError(topic.error_code, name=str(topic.name))
            partitions = tuple(
                PartitionState(
                    partition=p.partition_index,
                    leader=p.leader_id,
                    replicas=tuple(p.replica_nodes),
                    isr=tuple(p.isr_nodes),
                    offline_replicas=tuple(p.offline_replicas),
                )
                for p in sorted(topic.partitions, key=lambda p: p.partition_index)
            )
            described.append(TopicDescription(str(topic.name), topic.topic_id, topic.is_internal, partitions))
        return sorted(described, key=lambda t: t.name)

    async def topic_configs(self, names: Sequence[str]) -> dict[str, list[ConfigEntry]]:
        resources = tuple(
            DescribeConfigsResource(resource_type=TOPIC_RESOURCE, resource_name=n, configuration_keys=None)
            for n in names
        )
        response = await self._send(DescribeConfigsRequest(resources=resources), DescribeConfigsResponse)
        configs = {}
        for result in response.results:
            _check(result.error_code, result.error_message, name=result.resource_name)
            configs[result.resource_name] = [
                ConfigEntry(c.name, c.value, _config_source(c.config_source), c.read_only, c.is_sensitive)
                for c in result.configs
            ]
        return configs

    # --- changing -----------------------------------------------------------------------

    async def create_topic(
        self,
        name: str,
        *,
        partitions: int = -1,
        replication_factor: int = -1,
        configs: Mapping[str, str] | None = None,
        validate_only: bool = False,
    ) -> CreatedTopic:
        """Create one topic; -1 for partitions or replication factor means the broker's default."""
        topic = CreatableTopic(
            name=TopicName(name),
            num_partitions=i32(partitions),
            replication_factor=i16(replication_factor),
            assignments=(),
            configs=tuple(CreatableTopicConfig(name=k, value=v) for k, v in (configs or {}).items()),
        )
        request = CreateTopicsRequest(
            topics=(topic,), timeout=self._broker_timeout(), validate_only=validate_only
        )
        response = await self._send(request, CreateTopicsResponse, to_controller=True)
        (result,) = response.topics
        _check(result.error_code, result.error_message, name=name)
        return CreatedTopic(name, result.topic_id, result.num_partitions, result.replication_factor)

    async def delete_topics(self, names: Sequence[str]) -> dict[str, KafkaApiError | None]:
        """Delete by name; the outcome per topic (``None``: deleted), so callers can skip some errors."""
        # topic_id stays unset (zero UUID on the wire): Kafka then deletes by name.
        states = tuple(DeleteTopicState(name=TopicName(n), topic_id=None) for n in names)
        request = DeleteTopicsRequest(topics=states, timeout=self._broker_timeout())
        response = await self._send(request, DeleteTopicsResponse, to_controller=True)
        outcome: dict[str, KafkaApiError | None] = {}
        for result in response.responses:
            name = str(result.name)
            failed = result.error_code != ErrorCode.none
            outcome[name] = (
                KafkaApiError(result.error_code, result.error_message, name=name) if failed else None
            )
        return outcome

    async def alter_topic_configs(
        self, name: str, *, set_configs: Mapping[str, str], delete_configs: Sequence[str] = ()
    ) -> None:
        """IncrementalAlterConfigs: set some keys, revert others to their defaults, leave the rest."""
        ops = [AlterableConfig(name=k, config_operation=_OP_SET, value=v) for k, v in set_configs.items()]
        ops += [AlterableConfig(name=k, config_operation=_OP_DELETE, value=None) for k in delete_configs]
        resource = AlterConfigsResource(resource_type=TOPIC_RESOURCE, resource_name=name, configs=tuple(ops))
        request = IncrementalAlterConfigsRequest(resources=(resource,), validate_only=False)
        response = await self._send(request, IncrementalAlterConfigsResponse)
        (result,) = response.responses
        _check(result.error_code, result.error_message, name=name)

    async def create_partitions(self, name: str, total: int) -> None:
        """Grow a topic to ``total`` partitions (Kafka never shrinks one)."""
        topic = CreatePartitionsTopic(name=TopicName(name), count=i32(total), assignments=None)
        request = CreatePartitionsRequest(
            topics=(topic,), timeout=self._broker_timeout(), validate_only=False
        )
        response = await self._send(request, CreatePartitionsResponse, to_controller=True)
        (result,) = response.results
        _check(result.error_code, result.error_message, name=name)

    # --- plumbing -----------------------------------------------------------------------

    def _broker_timeout(self) -> i32Timedelta:
        return i32Timedelta.parse(datetime.timedelta(seconds=self.settings.timeout_s))

    async def _send(self, request: Any, response_type: type[T], *, to_controller: bool = False) -> T:
        client = self._client
        if client is None:
            raise RuntimeError("Admin used outside 'async with'")
        # In KRaft every broker forwards admin requests to the controller; older ZooKeeper
        # clusters need them sent to the controller itself, which metadata names.
        controller = client.cluster.controller
        node_id = controller.nodeId if to_controller and controller is not None else client.get_random_node()
        what = type(request).__name__.removesuffix("Request")
        try:
            async with asyncio.timeout(self.settings.timeout_s):
                response = await client.send(node_id, KioRequest(request, response_type))
        except UnsupportedApiVersionError as exc:
            raise KafkaApiError(ErrorCode.unsupported_version, str(exc)) from None
        except (KafkaConnectionError, NodeNotReadyError):
            broker = client.cluster.broker_metadata(node_id)
            address = f"{broker.host}:{broker.port}" if broker else self.settings.bootstrap_servers
            raise BrokerUnreachableError(address, "connection lost or refused") from None
        except (RequestTimedOutError, TimeoutError):
            raise BrokerTimeoutError(what, self.settings.timeout_s) from None
        return expect(response, response_type)


def _check(code: ErrorCode, message: str | None, *, name: str) -> None:
    if code != ErrorCode.none:
        raise KafkaApiError(code, message, name=name)


def _config_source(value: int) -> ConfigSource:
    try:
        return ConfigSource(value)
    except ValueError:
        return ConfigSource.UNKNOWN


def _aiokafka_description(code: ErrorCode) -> str:
    description = str(getattr(for_code(int(code)), "description", ""))
    return description if for_code(int(code)).errno == int(code) and description else "request failed"


def _mentions(text: str, name: str) -> bool:
    """Whether ``text`` names ``name`` as a whole word (topic names use ``[A-Za-z0-9._-]``)."""
    return re.search(rf"(?<![\w.-]){re.escape(name)}(?![\w.-])", text) is not None


def _sentence_fragment(text: str) -> str:
    """``"Topic 'x' already exists."`` -> ``"topic 'x' already exists"``, to follow ``error: ``."""
    text = text.strip().removesuffix(".")
    if len(text) > 1 and text[0].isupper() and text[1].islower():
        text = text[0].lower() + text[1:]
    return text
