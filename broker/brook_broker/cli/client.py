"""The admin layer of Brook's client side: typed topic, offset and group operations against any Kafka broker.

One `Admin` serves the `brook topics`, `groups`, `produce` and `consume` commands and the
operator (`brook_operator.admin` adapts it to its reconcilers). It owns nothing CLI-specific:
callers get frozen dataclasses back and three exception types to present as they like
(`KafkaApiError` from `cli.kafka_errors`, `BrokerUnreachableError` and `BrokerTimeoutError`
from `cli.connection`). Connections are aiokafka's `AIOKafkaClient`; the requests are kio's
generated classes (see `cli.kio_transport` for why not aiokafka's). Group operations come
from `cli.group_client.GroupOperations`, mixed in here.

Every call is bounded by `ConnectionSettings.timeout_s` (retries of Kafka's retriable errors
included), and reaching the first broker by `connection.CONNECT_TIMEOUT_S`, so an
unreachable or silent broker fails in seconds.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime
import enum
import uuid
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from types import TracebackType
from typing import Any, Self, TypeVar

from aiokafka.client import AIOKafkaClient
from aiokafka.errors import KafkaConnectionError, NodeNotReadyError, RequestTimedOutError
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
from kio.schema.list_offsets.v7.request import ListOffsetsPartition, ListOffsetsRequest, ListOffsetsTopic
from kio.schema.list_offsets.v7.response import ListOffsetsResponse
from kio.schema.metadata.v12.request import MetadataRequest, MetadataRequestTopic
from kio.schema.metadata.v12.response import MetadataResponse
from kio.schema.types import BrokerId, TopicName
from kio.static.primitive import i8, i16, i32, i32Timedelta, i64

from brook_broker.cli.connection import (
    BrokerTimeoutError,
    BrokerUnreachableError,
    ConnectionSettings,
    open_client,
)
from brook_broker.cli.group_client import GroupOperations
from brook_broker.cli.kafka_errors import KafkaApiError, check
from brook_broker.cli.kio_transport import KioRequest, UnsupportedApiVersionError, expect

__all__ = ["EARLIEST", "LATEST", "Admin", "KafkaApiError", "TopicPartition"]

#: Kafka's ConfigResource.Type.TOPIC and the AlterConfigOp.OpType codes.
TOPIC_RESOURCE = i8(2)
_OP_SET, _OP_DELETE = i8(0), i8(1)
#: ListOffsets' special timestamps.
LATEST, EARLIEST = -1, -2
#: ListOffsets' answer when no record has a timestamp at or after the one asked for.
UNKNOWN_OFFSET = -1
_READ_UNCOMMITTED = i8(0)

T = TypeVar("T")
TopicPartition = tuple[str, int]


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

    @property
    def set_on_topic(self) -> bool:
        """Set on the topic itself (what IncrementalAlterConfigs DELETE would revert)."""
        return self.source == ConfigSource.DYNAMIC_TOPIC_CONFIG


@dataclasses.dataclass(frozen=True, slots=True)
class CreatedTopic:
    name: str
    topic_id: uuid.UUID | None
    partitions: int
    replication_factor: int


class Admin(GroupOperations):
    """Kafka administration over one aiokafka client: ``async with Admin(settings) as admin``."""

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
        self,
        names: Sequence[str] | None = None,
        *,
        allow_auto_create: bool = False,
        skip_missing: bool = False,
    ) -> list[TopicDescription]:
        """The named topics (all topics for ``None``); `KafkaApiError` for the first that fails.

        With ``skip_missing`` a topic that does not exist is left out instead.
        """
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
        response = await self.send(request, MetadataResponse)
        described = []
        for topic in response.topics:
            if skip_missing and topic.error_code == ErrorCode.unknown_topic_or_partition:
                continue
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
        response = await self.send(DescribeConfigsRequest(resources=resources), DescribeConfigsResponse)
        configs = {}
        for result in response.results:
            check(result.error_code, result.error_message, name=result.resource_name)
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
        response = await self.send(request, CreateTopicsResponse, to_controller=True)
        (result,) = response.topics
        check(result.error_code, result.error_message, name=name)
        return CreatedTopic(name, result.topic_id, result.num_partitions, result.replication_factor)

    async def delete_topics(self, names: Sequence[str]) -> dict[str, KafkaApiError | None]:
        """Delete by name; the outcome per topic (``None``: deleted), so callers can skip some errors."""
        # topic_id stays unset (zero UUID on the wire): Kafka then deletes by name.
        states = tuple(DeleteTopicState(name=TopicName(n), topic_id=None) for n in names)
        request = DeleteTopicsRequest(topics=states, timeout=self._broker_timeout())
        response = await self.send(request, DeleteTopicsResponse, to_controller=True)
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
        response = await self.send(request, IncrementalAlterConfigsResponse)
        (result,) = response.responses
        check(result.error_code, result.error_message, name=name)

    async def create_partitions(self, name: str, total: int) -> None:
        """Grow a topic to ``total`` partitions (Kafka never shrinks one)."""
        topic = CreatePartitionsTopic(name=TopicName(name), count=i32(total), assignments=None)
        request = CreatePartitionsRequest(
            topics=(topic,), timeout=self._broker_timeout(), validate_only=False
        )
        response = await self.send(request, CreatePartitionsResponse, to_controller=True)
        (result,) = response.results
        check(result.error_code, result.error_message, name=name)

    async def list_offsets(
        self, partitions: Iterable[TopicPartition], *, timestamp: int
    ) -> dict[TopicPartition, int]:
        """ListOffsets from each partition's leader: `EARLIEST`, `LATEST` or a timestamp (ms).

        For a timestamp the answer is the first offset whose record is at least that old, or
        `UNKNOWN_OFFSET` when there is none (see `offsets_for_time`).
        """
        wanted = sorted(set(partitions))
        if not wanted:
            return {}

        async def attempt() -> dict[TopicPartition, int]:
            by_leader: dict[int, dict[str, list[int]]] = {}
            for topic, partition, leader in await self._leaders(wanted):
                by_leader.setdefault(leader, {}).setdefault(topic, []).append(partition)
            found: dict[TopicPartition, int] = {}
            for leader, topics in by_leader.items():
                request = ListOffsetsRequest(
                    replica_id=BrokerId(-1),
                    isolation_level=_READ_UNCOMMITTED,
                    topics=tuple(
                        ListOffsetsTopic(
                            name=TopicName(topic),
                            partitions=tuple(
                                ListOffsetsPartition(partition_index=i32(p), timestamp=i64(timestamp))
                                for p in ids
                            ),
                        )
                        for topic, ids in topics.items()
                    ),
                )
                response = await self.send(request, ListOffsetsResponse, node=leader)
                for topic_response in response.topics:
                    for p in topic_response.partitions:
                        name = f"{topic_response.name}-{p.partition_index}"
                        check(p.error_code, kind="partition", name=name)
                        found[(str(topic_response.name), int(p.partition_index))] = int(p.offset)
            return found

        return await self.retrying(attempt)

    async def offsets_for_time(
        self, partitions: Iterable[TopicPartition], *, timestamp_ms: int
    ) -> dict[TopicPartition, int]:
        """The first offset at or after a time; the log end offset where every record is older.

        Kafka's rule for ``--to-datetime`` resets and a consumer's ``offsetsForTimes`` users.
        """
        found = await self.list_offsets(partitions, timestamp=timestamp_ms)
        if beyond := [tp for tp, offset in found.items() if offset == UNKNOWN_OFFSET]:
            found |= await self.list_offsets(beyond, timestamp=LATEST)
        return found

    async def _leaders(self, partitions: Sequence[TopicPartition]) -> list[tuple[str, int, int]]:
        """``(topic, partition, leader)`` for each partition; an unknown one is an error."""
        topics = {t.name: t for t in await self.describe_topics(sorted({t for t, _ in partitions}))}
        leaders = []
        for topic, partition in partitions:
            state = next((p for p in topics[topic].partitions if p.partition == partition), None)
            if state is None:
                count = len(topics[topic].partitions)
                raise KafkaApiError(
                    ErrorCode.unknown_topic_or_partition,
                    f"topic '{topic}' has no partition {partition} (it has {count})",
                )
            if state.leader < 0:
                raise KafkaApiError(
                    ErrorCode.leader_not_available, kind="partition", name=f"{topic}-{partition}"
                )
            leaders.append((topic, partition, state.leader))
        return leaders

    # --- plumbing -----------------------------------------------------------------------

    def broker_ids(self) -> list[int]:
        """The brokers in the cluster's metadata (as of the bootstrap or the last refresh)."""
        if self._client is None:
            raise RuntimeError("Admin used outside 'async with'")
        return sorted(int(b.nodeId) for b in self._client.cluster.brokers())

    def _broker_timeout(self) -> i32Timedelta:
        return i32Timedelta.parse(datetime.timedelta(seconds=self.settings.timeout_s))

    async def retrying(self, call: Callable[[], Awaitable[T]]) -> T:
        """Run ``call`` again while it fails with a retriable Kafka error, within the timeout.

        Kafka's AdminClient does the same: a coordinator that is loading or moving, or a
        leader election, answers with such an error for a moment (a fresh cluster answers
        COORDINATOR_NOT_AVAILABLE while it creates ``__consumer_offsets``).
        """
        loop = asyncio.get_running_loop()
        deadline, delay = loop.time() + self.settings.timeout_s, 0.05
        while True:
            try:
                return await call()
            except KafkaApiError as error:
                if not error.retriable or loop.time() + delay > deadline:
                    raise
            await asyncio.sleep(delay)
            delay = min(delay * 2, 1.0)

    async def send(
        self, request: Any, response_type: type[T], *, node: int | None = None, to_controller: bool = False
    ) -> T:
        """Send one kio request to ``node`` (default: any broker, or the controller) and return the answer."""
        client = self._client
        if client is None:
            raise RuntimeError("Admin used outside 'async with'")
        if node is None:
            # In KRaft every broker forwards admin requests to the controller; older ZooKeeper
            # clusters need them sent to the controller itself, which metadata names.
            controller = client.cluster.controller
            node = controller.nodeId if to_controller and controller is not None else client.get_random_node()
        elif client.cluster.broker_metadata(node) is None:
            # A coordinator or leader this client has not heard of yet (a new broker).
            await client.force_metadata_update()
        what = type(request).__name__.removesuffix("Request")
        try:
            async with asyncio.timeout(self.settings.timeout_s):
                response = await client.send(node, KioRequest(request, response_type))
        except UnsupportedApiVersionError as exc:
            raise KafkaApiError(ErrorCode.unsupported_version, str(exc)) from None
        except (KafkaConnectionError, NodeNotReadyError):
            broker = client.cluster.broker_metadata(node)
            address = f"{broker.host}:{broker.port}" if broker else self.settings.bootstrap_servers
            raise BrokerUnreachableError(address, "connection lost or refused") from None
        except (RequestTimedOutError, TimeoutError):
            raise BrokerTimeoutError(what, self.settings.timeout_s) from None
        return expect(response, response_type)


def _config_source(value: int) -> ConfigSource:
    try:
        return ConfigSource(value)
    except ValueError:
        return ConfigSource.UNKNOWN
