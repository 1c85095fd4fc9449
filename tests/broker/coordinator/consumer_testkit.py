"""KIP-848 consumer groups on a manual clock: a shard with a metadata image, and well-behaved members.

`ConsumerHarness` is `coordinator_testkit.ShardHarness` plus a `MetadataImage` the tests edit
(create topics, add partitions, delete topics). `Member` plays a client that follows the
protocol: it remembers its member id and epoch, takes the assignment a response carries as
the partitions it owns, and reports them in its next heartbeat (revoking at once).
"""

from __future__ import annotations

import uuid
from typing import Any

from coordinator_testkit import ShardHarness

from brook_broker.coordinator.group.common import GroupConfig
from brook_broker.coordinator.group.consumer.group import ConsumerGroup
from brook_broker.coordinator.group.consumer.messages import (
    ConsumerGroupHeartbeatRequest,
    ConsumerGroupHeartbeatResponse,
)
from brook_broker.metadata.image import MetadataImage, PartitionRegistration, TopicImage
from brook_broker.protocol.errors import BrokerError, ErrorCode

GROUP = "group"
REBALANCE_TIMEOUT_MS = 30_000


class ConsumerHarness(ShardHarness):
    def __init__(self, config: GroupConfig | None = None) -> None:
        super().__init__(config or GroupConfig(consumer_group_session_timeout_ms=45_000))
        self.image = MetadataImage()
        self.shard.consumer.image = self.image

    def create_topic(self, name: str, partitions: int) -> uuid.UUID:
        topic_id = uuid.uuid4()
        topic = TopicImage(name, topic_id, {})
        self.image.topics_by_name[name] = self.image.topics_by_id[topic_id] = topic
        self.add_partitions(name, partitions)
        return topic_id

    def add_partitions(self, name: str, count: int) -> None:
        topic = self.image.topics_by_name[name]
        start = len(topic.partitions)
        for index in range(start, start + count):
            topic.partitions[index] = PartitionRegistration((1,), (1,), 1, 0, 0)
        self.image.offset += 1

    def delete_topic(self, name: str) -> None:
        topic = self.image.topics_by_name.pop(name)
        del self.image.topics_by_id[topic.topic_id]
        self.image.offset += 1

    def group(self, group_id: str = GROUP) -> ConsumerGroup:
        group = self.shard.groups.get(group_id)
        assert isinstance(group, ConsumerGroup), group
        return group

    def heartbeat(self, request: ConsumerGroupHeartbeatRequest) -> ConsumerGroupHeartbeatResponse:
        """Validate and run one heartbeat as the service does; errors become error responses."""
        try:
            request.validate(assignors=["uniform", "range"])
            response: ConsumerGroupHeartbeatResponse = self.run(self.shard.consumer.heartbeat(request))
        except BrokerError as exc:
            return ConsumerGroupHeartbeatResponse(error=exc.error_code, error_message=str(exc))
        return response

    def member(self, name: str, *topics: str, **kwargs: Any) -> Member:
        return Member(self, name, topics, **kwargs)


class Member:
    def __init__(
        self,
        harness: ConsumerHarness,
        name: str,
        topics: tuple[str, ...],
        *,
        regex: str | None = None,
        instance_id: str | None = None,
        assignor: str | None = None,
        group_id: str = GROUP,
    ) -> None:
        self.h = harness
        self.member_id = f"{name}-{uuid.uuid4().hex[:8]}"
        self.group_id = group_id
        self.topics = topics
        self.regex = regex
        self.instance_id = instance_id
        self.assignor = assignor
        self.epoch = 0
        self.owned: dict[uuid.UUID, frozenset[int]] = {}
        self.last: ConsumerGroupHeartbeatResponse | None = None

    def join(self) -> ConsumerGroupHeartbeatResponse:
        self.epoch, self.owned = 0, {}
        return self.heartbeat()

    def heartbeat(
        self, *, owned: dict[uuid.UUID, frozenset[int]] | None = None
    ) -> ConsumerGroupHeartbeatResponse:
        joining = self.epoch == 0
        reported = self.owned if owned is None else owned
        response = self.h.heartbeat(
            ConsumerGroupHeartbeatRequest(
                group_id=self.group_id,
                member_id=self.member_id,
                member_epoch=self.epoch,
                instance_id=self.instance_id,
                rebalance_timeout_ms=REBALANCE_TIMEOUT_MS if joining else -1,
                subscribed_topic_names=self.topics if joining and self.regex is None else None,
                subscribed_topic_regex=self.regex if joining else None,
                server_assignor=self.assignor if joining else None,
                topic_partitions=tuple((t, tuple(sorted(p))) for t, p in reported.items()),
                client_id=self.member_id.split("-")[0],
                client_host="/127.0.0.1",
            )
        )
        self.last = response
        if response.error == ErrorCode.none:
            self.epoch = response.member_epoch
            if response.assignment is not None:
                self.owned = dict(response.assignment)
        return response

    def leave(self, *, epoch: int = -1) -> ConsumerGroupHeartbeatResponse:
        return self.h.heartbeat(
            ConsumerGroupHeartbeatRequest(
                group_id=self.group_id,
                member_id=self.member_id,
                member_epoch=epoch,
                instance_id=self.instance_id,
            )
        )

    def partitions(self, topic_id: uuid.UUID) -> list[int]:
        return sorted(self.owned.get(topic_id, frozenset()))


def settle(members: list[Member], *, rounds: int = 6) -> None:
    """Heartbeat every member a few times: a group of well-behaved members converges."""
    for _ in range(rounds):
        for member in members:
            assert member.heartbeat().error == ErrorCode.none, member.last
