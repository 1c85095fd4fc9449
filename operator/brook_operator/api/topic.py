"""The `Topic` CR: one Kafka topic, declared in Kubernetes and reconciled one way (Kubernetes -> Kafka).

`reconcilers/topics.py` creates or adopts the topic, raises partitions, applies config with
IncrementalAlterConfigs and reverts out-of-band changes on a periodic resync (Strimzi's unidirectional
topic operator semantics, see docs/operator.md).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from pydantic import Field

from brook_operator.api.common import ClusterRef, Condition, ConfigValue, CRModel

#: Kafka's topic name rule (`Topic.validate`): legal characters and at most 249 of them.
TOPIC_NAME_PATTERN = r"^[a-zA-Z0-9._-]{1,249}$"


class TopicSpec(CRModel):
    """The desired state of a Kafka topic."""

    cluster_ref: ClusterRef
    """The KafkaCluster that hosts the topic (immutable)."""
    topic_name: str | None = Field(default=None, pattern=TOPIC_NAME_PATTERN)
    """The name of the topic in Kafka; defaults to metadata.name (immutable)."""
    partitions: int = Field(default=1, ge=1, le=100000)
    """The number of partitions. It can grow; Kafka cannot shrink a topic."""
    replication_factor: int = Field(default=1, ge=1, le=32767)
    """Replicas per partition. Changing it later is not supported."""
    config: Annotated[dict[str, ConfigValue], Field(max_length=256)] = Field(default_factory=dict)
    """Topic configuration with Kafka's names (retention.ms, cleanup.policy, ...)."""

    def name_in_kafka(self, metadata_name: str) -> str:
        """The topic's name in Kafka."""
        return self.topic_name or metadata_name


class ConfigDrift(CRModel):
    """One value that was changed in Kafka outside this resource and put back."""

    field: str
    """partitions, or a config key."""
    kafka_value: str | None = None
    """The value found in Kafka (unset: the key was not set)."""
    spec_value: str | None = None
    """The value from the spec that was restored (unset: the key was removed)."""


class DriftStatus(CRModel):
    """The last out-of-band change that the operator reverted."""

    detected_at: dt.datetime
    """When the resync found it."""
    changes: list[ConfigDrift] = Field(default_factory=list)
    """What differed."""


class TopicStatus(CRModel):
    """The observed state of a topic."""

    observed_generation: int | None = None
    """The metadata.generation the operator last reconciled."""
    conditions: list[Condition] = Field(default_factory=list)
    """Ready, Reconciling and Stalled (reasons in docs/operator.md)."""
    topic_name: str | None = None
    """The topic's name in Kafka."""
    topic_id: str | None = None
    """The topic's id in Kafka."""
    partitions: int | None = None
    """Partitions in Kafka."""
    replication_factor: int | None = None
    """Replicas per partition in Kafka."""
    last_drift: DriftStatus | None = None
    """The last out-of-band change that was reverted."""


def parse_spec(spec: dict[str, Any]) -> TopicSpec:
    """A Topic's spec as a model (raises pydantic.ValidationError on bad input)."""
    return TopicSpec.model_validate(spec)
