"""The metadata image: what the cluster metadata log says, as lookup tables.

Kafka builds an immutable ``MetadataImage`` from deltas; here one mutable image is owned by
the broker and changed only by `MetadataImage.apply`, which returns a `MetadataDelta` so the
replica manager can create and delete local logs for exactly what changed.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Iterator

from brook_broker.metadata import records as r
from brook_broker.protocol.types import TopicPartition


@dataclasses.dataclass(slots=True)
class PartitionRegistration:
    """Leader, replicas and ISR of one partition (Kafka's ``PartitionRegistration``)."""

    replicas: tuple[int, ...]
    isr: tuple[int, ...]
    leader: int
    leader_epoch: int
    partition_epoch: int


@dataclasses.dataclass(slots=True)
class TopicImage:
    name: str
    topic_id: uuid.UUID
    partitions: dict[int, PartitionRegistration] = dataclasses.field(default_factory=dict)

    def topic_partitions(self) -> Iterator[TopicPartition]:
        for partition in sorted(self.partitions):
            yield TopicPartition(self.name, partition)


@dataclasses.dataclass(slots=True)
class MetadataDelta:
    """What one batch of records changed, for the components that act on changes."""

    created_partitions: list[tuple[TopicImage, int]] = dataclasses.field(default_factory=list)
    changed_partitions: list[tuple[TopicImage, int]] = dataclasses.field(default_factory=list)
    deleted_topics: list[TopicImage] = dataclasses.field(default_factory=list)
    changed_topic_configs: set[str] = dataclasses.field(default_factory=set)
    changed_broker_configs: bool = False


@dataclasses.dataclass(slots=True)
class MetadataImage:
    topics_by_name: dict[str, TopicImage] = dataclasses.field(default_factory=dict)
    topics_by_id: dict[uuid.UUID, TopicImage] = dataclasses.field(default_factory=dict)
    #: Dynamic configs: ``(resource type, resource name) -> {name: value}``.
    configs: dict[tuple[int, str], dict[str, str]] = dataclasses.field(default_factory=dict)
    features: dict[str, int] = dataclasses.field(default_factory=dict)
    next_producer_id: int = 0
    #: Offset of the last record applied; -1 for an empty log.
    offset: int = -1

    def topic(self, name: str) -> TopicImage | None:
        return self.topics_by_name.get(name)

    def topic_configs(self, name: str) -> dict[str, str]:
        return self.configs.get((r.TOPIC_RESOURCE, name), {})

    def partition(self, tp: TopicPartition) -> PartitionRegistration | None:
        topic = self.topics_by_name.get(tp.topic)
        return None if topic is None else topic.partitions.get(tp.partition)

    def apply(self, record: r.MetadataRecord, delta: MetadataDelta) -> None:
        """Fold one record into the image, noting the change in ``delta``."""
        match record:
            case r.TopicRecord(name=name, topic_id=topic_id):
                topic = TopicImage(name=name, topic_id=topic_id)
                self.topics_by_name[name] = topic
                self.topics_by_id[topic_id] = topic
            case r.PartitionRecord():
                topic = self.topics_by_id[record.topic_id]
                topic.partitions[record.partition_id] = PartitionRegistration(
                    replicas=record.replicas,
                    isr=record.isr,
                    leader=record.leader,
                    leader_epoch=record.leader_epoch,
                    partition_epoch=record.partition_epoch,
                )
                delta.created_partitions.append((topic, record.partition_id))
            case r.PartitionChangeRecord():
                topic = self.topics_by_id[record.topic_id]
                self._change_partition(topic, record)
                delta.changed_partitions.append((topic, record.partition_id))
            case r.RemoveTopicRecord(topic_id=topic_id):
                topic = self.topics_by_id.pop(topic_id)
                del self.topics_by_name[topic.name]
                self.configs.pop((r.TOPIC_RESOURCE, topic.name), None)
                delta.deleted_topics.append(topic)
            case r.ConfigRecord():
                key = (record.resource_type, record.resource_name)
                values = self.configs.setdefault(key, {})
                if record.value is None:
                    values.pop(record.name, None)
                else:
                    values[record.name] = record.value
                if not values:
                    del self.configs[key]
                if record.resource_type == r.TOPIC_RESOURCE:
                    delta.changed_topic_configs.add(record.resource_name)
                else:
                    delta.changed_broker_configs = True
            case r.ProducerIdsRecord(next_producer_id=next_id):
                self.next_producer_id = max(self.next_producer_id, next_id)
            case r.FeatureLevelRecord(name=name, feature_level=level):
                self.features[name] = level
            case _:
                raise ValueError(f"unknown metadata record {record!r}")

    @staticmethod
    def _change_partition(topic: TopicImage, record: r.PartitionChangeRecord) -> None:
        current = topic.partitions[record.partition_id]
        leader_changed = record.leader is not None and record.leader != current.leader
        if record.leader is not None:
            current.leader = record.leader
        if record.isr is not None:
            current.isr = record.isr
        if record.replicas is not None:
            current.replicas = record.replicas
        # Kafka bumps the leader epoch only when the leader changes; every change bumps
        # the partition epoch (so AlterPartition can detect stale requests).
        if leader_changed:
            current.leader_epoch += 1
        current.partition_epoch += 1
