"""The Kafka admin client the operator's reconcilers use: the CLI's admin layer, in their terms.

All Kafka work (requests, versions, coordinator lookup, retries of retriable errors, ListOffsets
by timestamp, commits for an empty group) lives in `brook_broker.cli.client.Admin`, shared with
the `brook` CLI. This module only adapts it to what the topic and group reconcilers expect:
``None``/``False`` where a topic is missing, small result types, and every failure as one
`KafkaAdminError` whose text goes into a condition message ("cannot connect: ..." when the
cluster cannot be reached, which the reconcilers report as reason KafkaUnreachable).
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterable, Iterator, Mapping
from types import TracebackType
from typing import Self

from kio.schema.errors import ErrorCode

from brook_broker.cli.client import EARLIEST, LATEST, Admin, ConfigEntry, TopicPartition
from brook_broker.cli.connection import BrokerTimeoutError, BrokerUnreachableError, ConnectionSettings
from brook_broker.cli.kafka_errors import KafkaApiError

__all__ = [
    "EARLIEST",
    "LATEST",
    "ConfigEntry",
    "GroupDescription",
    "KafkaAdmin",
    "KafkaAdminError",
    "TopicDescription",
    "TopicPartition",
]

CLIENT_ID = "brook-operator"


class KafkaAdminError(Exception):
    """A Kafka admin call failed: the error name and message, ready for a condition message."""


@dataclasses.dataclass(frozen=True)
class TopicDescription:
    name: str
    partitions: int
    replication_factor: int


@dataclasses.dataclass(frozen=True)
class GroupDescription:
    group_id: str
    state: str
    protocol_type: str
    members: int


@contextlib.contextmanager
def _as_admin_error() -> Iterator[None]:
    try:
        yield
    except BrokerUnreachableError as error:
        raise KafkaAdminError(f"cannot connect: {error}") from error
    except (BrokerTimeoutError, KafkaApiError) as error:
        raise KafkaAdminError(str(error)) from error


class KafkaAdmin:
    """One admin connection to a cluster, used as `async with KafkaAdmin(bootstrap_servers=...) as admin`."""

    def __init__(self, *, bootstrap_servers: str, request_timeout_ms: int = 15000) -> None:
        settings = ConnectionSettings(
            bootstrap_servers=bootstrap_servers, timeout_s=request_timeout_ms / 1000, client_id=CLIENT_ID
        )
        self._admin = Admin(settings)

    async def __aenter__(self) -> Self:
        with _as_admin_error():
            await self._admin.__aenter__()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self._admin.__aexit__(exc_type, exc, tb)

    # --- topics ---

    async def describe_topic(self, name: str) -> TopicDescription | None:
        """Partitions and replication factor of a topic, or None if it does not exist."""
        with _as_admin_error():
            found = await self._admin.describe_topics([name], skip_missing=True)
        if not found:
            return None
        (topic,) = found
        return TopicDescription(name, len(topic.partitions), topic.replication_factor)

    async def create_topic(
        self, *, name: str, partitions: int, replication_factor: int, config: Mapping[str, str]
    ) -> bool:
        """Create a topic; False if it already exists (the caller adopts it)."""
        try:
            with _as_admin_error():
                await self._admin.create_topic(
                    name, partitions=partitions, replication_factor=replication_factor, configs=config
                )
        except KafkaAdminError as error:
            if (
                isinstance(error.__cause__, KafkaApiError)
                and error.__cause__.code == ErrorCode.topic_already_exists
            ):
                return False
            raise
        return True

    async def create_partitions(self, *, name: str, total: int) -> None:
        """Grow a topic to `total` partitions."""
        with _as_admin_error():
            await self._admin.create_partitions(name, total)

    async def delete_topic(self, name: str) -> bool:
        """Delete a topic; False if it did not exist."""
        with _as_admin_error():
            outcome = (await self._admin.delete_topics([name])).get(name)
        if outcome is None:
            return True
        if outcome.code == ErrorCode.unknown_topic_or_partition:
            return False
        raise KafkaAdminError(str(outcome)) from outcome

    async def describe_topic_config(self, name: str) -> dict[str, ConfigEntry]:
        """Every config entry of a topic with its source (set on the topic, broker default, ...)."""
        with _as_admin_error():
            configs = await self._admin.topic_configs([name])
        return {entry.name: entry for entry in configs.get(name, [])}

    async def alter_topic_config(
        self, *, name: str, set_values: Mapping[str, str], delete: Iterable[str]
    ) -> None:
        """IncrementalAlterConfigs on one topic: SET the given values, DELETE (reset to default) the keys."""
        deleted = list(delete)
        if not set_values and not deleted:
            return
        with _as_admin_error():
            await self._admin.alter_topic_configs(name, set_configs=set_values, delete_configs=deleted)

    async def partitions_of(self, topics: Iterable[str]) -> dict[str, list[int]]:
        """Partition ids per existing topic (missing topics are left out)."""
        with _as_admin_error():
            found = await self._admin.describe_topics(sorted(set(topics)), skip_missing=True)
        return {t.name: [p.partition for p in t.partitions] for t in found}

    async def list_offsets(
        self, partitions: Iterable[TopicPartition], *, timestamp: int
    ) -> dict[TopicPartition, int]:
        """Offsets at a timestamp (ms), or EARLIEST / LATEST, from each partition's leader.

        A timestamp after the last record gives the log end offset (what Kafka's reset tool does).
        """
        with _as_admin_error():
            if timestamp >= 0:
                return await self._admin.offsets_for_time(partitions, timestamp_ms=timestamp)
            return await self._admin.list_offsets(partitions, timestamp=timestamp)

    # --- groups ---

    async def describe_group(self, group_id: str) -> GroupDescription:
        """State and members of a group (state "Dead" for a group that does not exist)."""
        with _as_admin_error():
            group = await self._admin.describe_group(group_id)
        return GroupDescription(group.group_id, group.state, group.protocol_type, len(group.members))

    async def group_offsets(self, group_id: str) -> dict[TopicPartition, int]:
        """Committed offsets of a group (partitions without a commit are left out)."""
        with _as_admin_error():
            offsets = await self._admin.group_offsets(group_id)
        return {tp: committed.offset for tp, committed in offsets.items()}

    async def commit_group_offsets(self, group_id: str, offsets: Mapping[TopicPartition, int]) -> None:
        """Commit offsets for an Empty group (generation -1, no member), as Kafka's admin client does."""
        with _as_admin_error():
            await self._admin.commit_group_offsets(group_id, offsets)
