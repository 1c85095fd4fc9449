"""Metadata records: the facts the cluster metadata log is made of (KRaft's record types).

The controller never edits state in place: it validates a request, emits records, appends
them to the metadata log and then applies them to the image. Replaying the log rebuilds the
image exactly, which is what makes a restart (and, later, a follower controller) converge.

Records are stored as JSON values inside ordinary Kafka record batches in the
``__cluster_metadata-0`` log. Kafka uses its binary ``ApiMessageAndVersion`` encoding there;
JSON keeps the log readable with ``brook`` tools and costs nothing at metadata rates.
"""

from __future__ import annotations

import dataclasses
import json
import uuid
from typing import Any, ClassVar

from brook_broker.protocol.types import uuid_from_base64, uuid_to_base64

#: Kafka's ``ConfigResource.Type`` ids, used as the resource type of `ConfigRecord`.
TOPIC_RESOURCE = 2
BROKER_RESOURCE = 4


@dataclasses.dataclass(frozen=True, slots=True)
class MetadataRecord:
    """Base class: a record type name and a version, like Kafka's ``MetadataRecordType``."""

    record_type: ClassVar[str] = ""
    version: ClassVar[int] = 0


@dataclasses.dataclass(frozen=True, slots=True)
class TopicRecord(MetadataRecord):
    record_type: ClassVar[str] = "TopicRecord"
    name: str
    topic_id: uuid.UUID


@dataclasses.dataclass(frozen=True, slots=True)
class PartitionRecord(MetadataRecord):
    record_type: ClassVar[str] = "PartitionRecord"
    topic_id: uuid.UUID
    partition_id: int
    replicas: tuple[int, ...]
    isr: tuple[int, ...]
    leader: int
    leader_epoch: int = 0
    partition_epoch: int = 0


@dataclasses.dataclass(frozen=True, slots=True)
class PartitionChangeRecord(MetadataRecord):
    """A change to one partition; fields left ``None`` are unchanged. Bumps partition_epoch."""

    record_type: ClassVar[str] = "PartitionChangeRecord"
    topic_id: uuid.UUID
    partition_id: int
    leader: int | None = None
    isr: tuple[int, ...] | None = None
    replicas: tuple[int, ...] | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class RemoveTopicRecord(MetadataRecord):
    record_type: ClassVar[str] = "RemoveTopicRecord"
    topic_id: uuid.UUID


@dataclasses.dataclass(frozen=True, slots=True)
class ConfigRecord(MetadataRecord):
    """Sets (value) or removes (``None``) one dynamic config of a topic or broker."""

    record_type: ClassVar[str] = "ConfigRecord"
    resource_type: int
    resource_name: str
    name: str
    value: str | None


@dataclasses.dataclass(frozen=True, slots=True)
class ProducerIdsRecord(MetadataRecord):
    """The next producer id block starts at ``next_producer_id`` (KIP-730)."""

    record_type: ClassVar[str] = "ProducerIdsRecord"
    broker_id: int
    next_producer_id: int


@dataclasses.dataclass(frozen=True, slots=True)
class FeatureLevelRecord(MetadataRecord):
    record_type: ClassVar[str] = "FeatureLevelRecord"
    name: str
    feature_level: int


RECORD_TYPES: dict[str, type[MetadataRecord]] = {
    cls.record_type: cls
    for cls in (
        TopicRecord,
        PartitionRecord,
        PartitionChangeRecord,
        RemoveTopicRecord,
        ConfigRecord,
        ProducerIdsRecord,
        FeatureLevelRecord,
    )
}


def _to_json(value: Any) -> Any:
    if isinstance(value, uuid.UUID):
        return uuid_to_base64(value)
    if isinstance(value, tuple):
        return list(value)
    return value


def encode(record: MetadataRecord) -> bytes:
    data = {f.name: _to_json(getattr(record, f.name)) for f in dataclasses.fields(record)}
    return json.dumps(
        {"type": record.record_type, "version": record.version, "data": data}, separators=(",", ":")
    ).encode()


def decode(raw: bytes) -> MetadataRecord:
    """Inverse of `encode`; raises ValueError for anything that is not a known record."""
    try:
        envelope = json.loads(raw)
        cls = RECORD_TYPES[envelope["type"]]
        kwargs: dict[str, Any] = {}
        for f in dataclasses.fields(cls):
            if f.name not in envelope["data"]:
                continue
            value = envelope["data"][f.name]
            if f.name == "topic_id":
                value = uuid_from_base64(value)
            elif isinstance(value, list):
                value = tuple(value)
            kwargs[f.name] = value
        return cls(**kwargs)
    except (KeyError, TypeError, json.JSONDecodeError) as exc:
        raise ValueError(f"not a metadata record: {raw[:80]!r}") from exc
