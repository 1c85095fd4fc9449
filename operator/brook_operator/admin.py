"""The Kafka admin client the operator uses to talk to brokers (topics, configs, groups, offsets).

A thin typed layer over aiokafka's `AIOKafkaAdminClient`: it turns aiokafka's raw responses into small
dataclasses and Kafka error codes into `KafkaAdminError`, and adds what aiokafka lacks —
IncrementalAlterConfigs (Kafka's API 44), ListOffsets by timestamp, and committing offsets for an empty
group (what Kafka's `Admin.alterConsumerGroupOffsets` sends: OffsetCommit with generation -1 and no
member). Metadata requests never auto-create topics, so describing a deleted topic cannot revive it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import enum
from collections.abc import Awaitable, Callable, Iterable, Mapping
from types import TracebackType
from typing import Any, Self, TypeVar

from aiokafka.admin import AIOKafkaAdminClient, NewPartitions, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import KafkaError, for_code
from aiokafka.protocol.api import Request, RequestStruct, Response
from aiokafka.protocol.commit import OffsetCommitRequest
from aiokafka.protocol.metadata import MetadataRequest
from aiokafka.protocol.offset import OffsetRequest
from aiokafka.protocol.types import Array, Boolean, Int8, Int16, Int32, Schema, String
from aiokafka.structs import TopicPartition as _AioTopicPartition

#: ListOffsets' special timestamps.
EARLIEST = -2
LATEST = -1

T = TypeVar("T")

_TOPIC_ALREADY_EXISTS = 36
_UNKNOWN_TOPIC_OR_PARTITION = 3
#: DescribeConfigs' config_source for a value set on the topic itself.
DYNAMIC_TOPIC_CONFIG = 1


class KafkaAdminError(Exception):
    """A Kafka admin call failed: the error name and message, ready for a condition message."""


class AlterOp(enum.IntEnum):
    SET = 0
    DELETE = 1


# --- IncrementalAlterConfigs v0 (KIP-339), missing from aiokafka --------------------------------


class IncrementalAlterConfigsResponse_v0(Response):  # type: ignore[misc]  # noqa: N801 - aiokafka naming
    API_KEY = 44
    API_VERSION = 0
    SCHEMA = Schema(
        ("throttle_time_ms", Int32),
        (
            "responses",
            Array(
                ("error_code", Int16),
                ("error_message", String("utf-8")),
                ("resource_type", Int8),
                ("resource_name", String("utf-8")),
            ),
        ),
    )


class IncrementalAlterConfigsRequest_v0(RequestStruct):  # type: ignore[misc]  # noqa: N801
    API_KEY = 44
    API_VERSION = 0
    RESPONSE_TYPE = IncrementalAlterConfigsResponse_v0
    SCHEMA = Schema(
        (
            "resources",
            Array(
                ("resource_type", Int8),
                ("resource_name", String("utf-8")),
                (
                    "configs",
                    Array(("name", String("utf-8")), ("config_operation", Int8), ("value", String("utf-8"))),
                ),
            ),
        ),
        ("validate_only", Boolean),
    )


class IncrementalAlterConfigsRequest(Request[IncrementalAlterConfigsRequest_v0]):  # type: ignore[misc]
    API_KEY = 44

    def __init__(self, resources: list[Any]) -> None:
        self._resources = resources

    def build(
        self, request_struct_class: type[IncrementalAlterConfigsRequest_v0]
    ) -> IncrementalAlterConfigsRequest_v0:
        return request_struct_class(self._resources, False)


# --- results ----------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class TopicDescription:
    name: str
    partitions: int
    replication_factor: int


@dataclasses.dataclass(frozen=True)
class ConfigEntry:
    value: str | None
    source: int
    read_only: bool

    @property
    def set_on_topic(self) -> bool:
        return self.source == DYNAMIC_TOPIC_CONFIG


@dataclasses.dataclass(frozen=True)
class GroupDescription:
    group_id: str
    state: str
    protocol_type: str
    members: int


TopicPartition = tuple[str, int]


def _raise_for(code: int, what: str, message: str | None = None) -> None:
    if code:
        error = for_code(code)
        raise KafkaAdminError(f"{what}: {error.__name__}{': ' + message if message else ''}")


class KafkaAdmin:
    """One admin connection to a cluster, used as `async with KafkaAdmin(bootstrap_servers=...) as admin`."""

    def __init__(self, *, bootstrap_servers: str, request_timeout_ms: int = 15000) -> None:
        self._timeout = request_timeout_ms / 1000
        self._client = AIOKafkaAdminClient(
            bootstrap_servers=bootstrap_servers,
            client_id="brook-operator",
            request_timeout_ms=request_timeout_ms,
        )

    async def __aenter__(self) -> Self:
        try:
            await self._client.start()
        except KafkaError as error:
            await self._client.close()
            raise KafkaAdminError(f"cannot connect: {error}") from error
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self._client.close()

    async def _retrying(self, what: str, call: Callable[[], Awaitable[T]]) -> T:
        """Retry Kafka's retriable errors (coordinator loading or moving, leader elections) until the timeout,
        as Kafka's own AdminClient does; a fresh cluster answers COORDINATOR_NOT_AVAILABLE for a moment."""
        loop = asyncio.get_running_loop()
        deadline, delay = loop.time() + self._timeout, 0.1
        while True:
            try:
                return await call()
            except KafkaError as error:
                if not getattr(error, "retriable", False) or loop.time() + delay > deadline:
                    raise KafkaAdminError(f"{what}: {error}") from error
            await asyncio.sleep(delay)
            delay = min(delay * 2, 1.0)

    async def _send(self, request: Request[Any], node_id: int | None = None) -> Any:
        try:
            return await self._client._send_request(request, node_id)
        except KafkaError as error:
            raise KafkaAdminError(str(error) or type(error).__name__) from error

    # --- topics ---

    async def describe_topic(self, name: str) -> TopicDescription | None:
        """Partitions and replication factor of a topic, or None if it does not exist."""
        response = await self._send(MetadataRequest([name], allow_auto_topic_creation=False))
        for topic in response.to_object()["topics"]:
            if topic["topic"] != name:
                continue
            if topic["error_code"] == _UNKNOWN_TOPIC_OR_PARTITION:
                return None
            _raise_for(topic["error_code"], f"describing topic {name}")
            partitions = topic["partitions"]
            rf = max((len(p["replicas"]) for p in partitions), default=0)
            return TopicDescription(name=name, partitions=len(partitions), replication_factor=rf)
        return None

    async def create_topic(
        self, *, name: str, partitions: int, replication_factor: int, config: Mapping[str, str]
    ) -> bool:
        """Create a topic; False if it already exists (the caller adopts it)."""
        try:
            response = await self._client.create_topics(
                [NewTopic(name, partitions, replication_factor, topic_configs=dict(config))]
            )
        except KafkaError as error:
            raise KafkaAdminError(str(error) or type(error).__name__) from error
        for entry in response.topic_errors:
            topic, code = entry[0], entry[1]
            message = entry[2] if len(entry) > 2 else None
            if topic == name and code == _TOPIC_ALREADY_EXISTS:
                return False
            _raise_for(code, f"creating topic {topic}", message)
        return True

    async def create_partitions(self, *, name: str, total: int) -> None:
        """Grow a topic to `total` partitions."""
        try:
            await self._client.create_partitions({name: NewPartitions(total)})
        except KafkaError as error:
            raise KafkaAdminError(f"adding partitions to {name}: {error}") from error

    async def delete_topic(self, name: str) -> bool:
        """Delete a topic; False if it did not exist."""
        try:
            response = await self._client.delete_topics([name])
        except KafkaError as error:
            raise KafkaAdminError(str(error) or type(error).__name__) from error
        for entry in response.topic_error_codes:
            topic, code = entry[0], entry[1]
            if topic == name and code == _UNKNOWN_TOPIC_OR_PARTITION:
                return False
            _raise_for(code, f"deleting topic {topic}")
        return True

    async def describe_topic_config(self, name: str) -> dict[str, ConfigEntry]:
        """Every config entry of a topic with its source (set on the topic, broker default, ...)."""
        try:
            responses = await self._client.describe_configs([ConfigResource(ConfigResourceType.TOPIC, name)])
        except KafkaError as error:
            raise KafkaAdminError(f"describing config of {name}: {error}") from error
        entries: dict[str, ConfigEntry] = {}
        for response in responses:
            for resource in response.resources:
                code, message, entries_raw = resource[0], resource[1], resource[4]
                _raise_for(code, f"describing config of {name}", message)
                for entry in entries_raw:
                    # v1+: (name, value, read_only, config_source, is_sensitive, synonyms)
                    entries[entry[0]] = ConfigEntry(value=entry[1], source=entry[3], read_only=entry[2])
        return entries

    async def alter_topic_config(
        self, *, name: str, set_values: Mapping[str, str], delete: Iterable[str]
    ) -> None:
        """IncrementalAlterConfigs on one topic: SET the given values, DELETE (reset to default) the keys."""
        ops: list[tuple[str, int, str | None]] = [
            (key, int(AlterOp.SET), value) for key, value in set_values.items()
        ]
        ops += [(key, int(AlterOp.DELETE), None) for key in delete]
        if not ops:
            return
        response = await self._send(
            IncrementalAlterConfigsRequest([(int(ConfigResourceType.TOPIC), name, ops)])
        )
        for code, message, _type, resource in response.responses:
            _raise_for(code, f"altering config of {resource}", message)

    async def partitions_of(self, topics: Iterable[str]) -> dict[str, list[int]]:
        """Partition ids per existing topic (missing topics are left out)."""
        response = await self._send(MetadataRequest(list(topics), allow_auto_topic_creation=False))
        return {
            topic["topic"]: sorted(p["partition"] for p in topic["partitions"])
            for topic in response.to_object()["topics"]
            if topic["error_code"] == 0
        }

    async def list_offsets(
        self, partitions: Iterable[TopicPartition], *, timestamp: int
    ) -> dict[TopicPartition, int]:
        """Offsets at a timestamp (ms), or EARLIEST / LATEST, from each partition's leader.

        A timestamp after the last record gives the log end offset (what Kafka's reset tool does).
        """
        by_topic: dict[str, list[int]] = {}
        for topic, partition in partitions:
            by_topic.setdefault(topic, []).append(partition)
        await self._client._client.force_metadata_update()
        cluster = self._client._client.cluster
        by_leader: dict[int, dict[str, list[int]]] = {}
        for topic, ids in by_topic.items():
            for partition in ids:
                leader = cluster.leader_for_partition(_AioTopicPartition(topic, partition))
                if leader is None or leader < 0:
                    raise KafkaAdminError(f"no leader for {topic}-{partition}")
                by_leader.setdefault(leader, {}).setdefault(topic, []).append(partition)
        found: dict[TopicPartition, int] = {}
        for leader, topics in by_leader.items():
            request = OffsetRequest(-1, 0, [(t, [(p, timestamp) for p in ps]) for t, ps in topics.items()])
            response = await self._send(request, leader)
            for topic, parts in response.topics:
                for part in parts:
                    partition, code = part[0], part[1]
                    _raise_for(code, f"listing offsets of {topic}-{partition}")
                    offset = (
                        part[3] if len(part) > 3 else part[2][0]
                    )  # v1+: (partition, error, timestamp, offset, ...)
                    found[(topic, partition)] = offset
        if timestamp >= 0:
            # No record at or after the timestamp: Kafka answers -1; the reset tool then uses the end.
            missing = [tp for tp, offset in found.items() if offset < 0]
            if missing:
                found |= await self.list_offsets(missing, timestamp=LATEST)
        return found

    # --- groups ---

    async def describe_group(self, group_id: str) -> GroupDescription:
        """State and members of a group (state "Dead" for a group that does not exist)."""

        async def describe() -> GroupDescription:
            for response in await self._client.describe_consumer_groups([group_id]):
                for group in response.groups:
                    code, gid, state, protocol_type, _protocol, members = group[:6]
                    if code:
                        raise for_code(code)(f"group {gid}")  # retried below when retriable
                    return GroupDescription(
                        group_id=gid, state=state, protocol_type=protocol_type, members=len(members)
                    )
            return GroupDescription(group_id=group_id, state="Dead", protocol_type="", members=0)

        return await self._retrying(f"describing group {group_id}", describe)

    async def group_offsets(self, group_id: str) -> dict[TopicPartition, int]:
        """Committed offsets of a group (partitions without a commit are left out)."""
        offsets = await self._retrying(
            f"reading offsets of group {group_id}", lambda: self._client.list_consumer_group_offsets(group_id)
        )
        return {(tp.topic, tp.partition): meta.offset for tp, meta in offsets.items() if meta.offset >= 0}

    async def commit_group_offsets(self, group_id: str, offsets: Mapping[TopicPartition, int]) -> None:
        """Commit offsets for an Empty group (generation -1, no member), as Kafka's admin client does."""
        by_topic: dict[str, list[tuple[int, int, str]]] = {}
        for (topic, partition), offset in sorted(offsets.items()):
            by_topic.setdefault(topic, []).append((partition, offset, ""))

        async def commit() -> None:
            coordinator = int(await self._client.find_coordinator(group_id))
            request = OffsetCommitRequest(group_id, -1, "", -1, list(by_topic.items()))
            response = await self._client._send_request(request, coordinator)
            for topic, parts in response.topics:
                for partition, code in parts:
                    if code:
                        raise for_code(code)(f"{topic}-{partition}")

        await self._retrying(f"committing offsets of group {group_id}", commit)
