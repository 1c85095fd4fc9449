"""The `ConsumerGroup` CR: observation of a Kafka consumer group plus one-shot offset resets.

The CR does not own the group's existence (clients create groups by joining them); it reports the
group's state, members and lag, and runs offset resets that are requested with a request id, each once,
only while the group is Empty. `reconcilers/groups.py` does the work through the Kafka admin API.
"""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from pydantic import Field, model_validator

from brook_operator.api.common import ClusterRef, Condition, CRModel


class ResetStrategy(enum.StrEnum):
    EARLIEST = "earliest"
    LATEST = "latest"
    DATETIME = "datetime"
    OFFSET = "offset"
    SHIFT = "shift"


class OffsetReset(CRModel):
    """A one-shot request to move the group's committed offsets (kafka-consumer-groups --reset-offsets)."""

    request_id: str = Field(min_length=1, max_length=128)
    """Identifies the request: a request runs once; change the id to run another."""
    strategy: ResetStrategy
    """earliest, latest, datetime (first offset at or after datetime), offset (an absolute offset) or
    shift (move each committed offset by shiftBy)."""
    topics: list[str] = Field(min_length=1, max_length=100)
    """Topics whose partitions are reset (all partitions of each)."""
    datetime: dt.datetime | None = None
    """strategy datetime: an RFC 3339 timestamp."""
    offset: int | None = Field(default=None, ge=0)
    """strategy offset: the offset to set (clamped to each partition's earliest..latest)."""
    shift_by: int | None = None
    """strategy shift: how far to move each committed offset (negative moves back)."""
    dry_run: bool = False
    """Only compute the new offsets and report them in status.offsetReset; commit nothing."""

    @model_validator(mode="after")
    def _argument_for_strategy(self) -> OffsetReset:
        needed = {
            ResetStrategy.DATETIME: "datetime",
            ResetStrategy.OFFSET: "offset",
            ResetStrategy.SHIFT: "shiftBy",
        }
        field = needed.get(self.strategy)
        if field and getattr(self, {"shiftBy": "shift_by"}.get(field, field)) is None:
            raise ValueError(f"strategy {self.strategy} needs {field}")
        return self


class ConsumerGroupSpec(CRModel):
    """Which group to observe, and an optional offset reset."""

    cluster_ref: ClusterRef
    """The KafkaCluster that hosts the group (immutable)."""
    group_id: str | None = Field(default=None, min_length=1, max_length=255)
    """The consumer group id; defaults to metadata.name (immutable)."""
    offset_reset: OffsetReset | None = None
    """A one-shot offset reset, run once per requestId while the group is Empty."""

    def group_in_kafka(self, metadata_name: str) -> str:
        """The group's id in Kafka."""
        return self.group_id or metadata_name


class PartitionLag(CRModel):
    """The group's position in one partition."""

    topic: str
    """The topic."""
    partition: int
    """The partition id."""
    committed_offset: int | None = None
    """The committed offset (unset: nothing committed)."""
    end_offset: int
    """The partition's log end offset (high watermark)."""
    lag: int
    """endOffset - committedOffset (endOffset when nothing is committed)."""


class PlannedOffset(CRModel):
    """One partition of an offset reset."""

    topic: str
    """The topic."""
    partition: int
    """The partition id."""
    previous_offset: int | None = None
    """The committed offset before the reset (unset: none)."""
    new_offset: int
    """The offset the reset commits (or would commit, in a dry run)."""


class OffsetResetStatus(CRModel):
    """The outcome of the last offset-reset request."""

    request_id: str
    """The request this describes."""
    phase: str
    """Pending (waiting for the group to be Empty), Completed, DryRun or Failed."""
    dry_run: bool = False
    """Whether it was a dry run."""
    message: str = ""
    """What happened."""
    finished_at: dt.datetime | None = None
    """When it completed, failed or was planned."""
    offsets: list[PlannedOffset] = Field(default_factory=list)
    """The offsets committed (or planned, in a dry run)."""


class ConsumerGroupStatus(CRModel):
    """The observed state of a consumer group, refreshed periodically."""

    observed_generation: int | None = None
    """The metadata.generation the operator last reconciled."""
    conditions: list[Condition] = Field(default_factory=list)
    """Ready, Reconciling, Stalled and OffsetReset (reasons in docs/operator.md)."""
    group_id: str | None = None
    """The group id in Kafka."""
    state: str | None = None
    """Kafka's group state: Empty, Stable, PreparingRebalance, CompletingRebalance, Dead."""
    members: int | None = None
    """Members in the group."""
    total_lag: int | None = None
    """The sum of lag over all partitions with a committed offset."""
    lag: list[PartitionLag] = Field(default_factory=list)
    """Per-partition lag (at most 200 partitions, the largest lags first)."""
    last_refresh_time: dt.datetime | None = None
    """When state and lag were last read from Kafka."""
    offset_reset: OffsetResetStatus | None = None
    """The last offset-reset request."""


def parse_spec(spec: dict[str, Any]) -> ConsumerGroupSpec:
    """A ConsumerGroup's spec as a model (raises pydantic.ValidationError on bad input)."""
    return ConsumerGroupSpec.model_validate(spec)
