"""The controller: validates admin requests and turns them into metadata records.

Kafka's ``QuorumController`` runs on the active controller of a Raft quorum; Brook runs a
single local voter for now, so "commit" means: append to the local metadata log (fsync'd)
and apply to the image. Every public method here is one admin operation; each validates
fully before it emits anything, so a failed request leaves no partial state behind.

Called by the `apis/` handlers (CreateTopics, DeleteTopics, CreatePartitions, the config
APIs, auto-creation from Metadata) and by the producer-id manager.
"""

from __future__ import annotations

import dataclasses
import logging
import uuid
from collections import Counter
from collections.abc import Callable, Mapping, Sequence

from brook_broker.config.configdef import ConfigError
from brook_broker.metadata import records as r
from brook_broker.metadata import topic_names
from brook_broker.metadata.image import MetadataDelta, MetadataImage, TopicImage
from brook_broker.metadata.log import MetadataLog
from brook_broker.protocol.errors import ErrorCode
from brook_broker.protocol.types import random_topic_id

logger = logging.getLogger(__name__)

#: Producer ids are handed to brokers in blocks, as Kafka's ``ProducerIdControlManager`` does.
PRODUCER_ID_BLOCK_SIZE = 1000


@dataclasses.dataclass(frozen=True, slots=True)
class ApiError:
    """An error code with Kafka's message for it, as admin responses carry them."""

    code: ErrorCode
    message: str | None = None


NONE = ApiError(ErrorCode.none)


@dataclasses.dataclass(frozen=True, slots=True)
class NewTopic:
    name: str
    num_partitions: int = -1
    replication_factor: int = -1
    assignments: Mapping[int, Sequence[int]] = dataclasses.field(default_factory=dict)
    configs: Mapping[str, str | None] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True, slots=True)
class CreateTopicResult:
    name: str
    error: ApiError
    topic_id: uuid.UUID | None = None
    num_partitions: int = -1
    replication_factor: int = -1
    configs: Mapping[str, str] = dataclasses.field(default_factory=dict)


#: ``validate_configs(overrides) -> normalized``; raises `ConfigError` with Kafka's one-line message.
ConfigValidator = Callable[[Mapping[str, str | None]], dict[str, str]]
DeltaListener = Callable[[MetadataDelta], None]


class QuorumController:
    def __init__(
        self,
        *,
        node_id: int,
        image: MetadataImage,
        metadata_log: MetadataLog,
        validate_topic_configs: ConfigValidator,
        default_num_partitions: int,
        default_replication_factor: int,
        delete_topic_enable: bool = True,
    ) -> None:
        self.node_id = node_id
        self.image = image
        self._log = metadata_log
        self._validate_topic_configs = validate_topic_configs
        self._default_num_partitions = default_num_partitions
        self._default_replication_factor = default_replication_factor
        self._delete_topic_enable = delete_topic_enable
        self._listeners: list[DeltaListener] = []

    # The broker registers itself here once its replica manager exists.
    def add_listener(self, listener: DeltaListener) -> None:
        self._listeners.append(listener)

    @property
    def live_brokers(self) -> list[int]:
        return [self.node_id]

    def commit(self, batch: Sequence[r.MetadataRecord]) -> MetadataDelta:
        """Append ``batch`` atomically to the metadata log, apply it, notify listeners."""
        delta = MetadataDelta()
        if not batch:
            return delta
        self.image.offset = self._log.append(batch)
        for record in batch:
            self.image.apply(record, delta)
        for listener in self._listeners:
            listener(delta)
        return delta

    # --- topics -----------------------------------------------------------------------

    def create_topics(self, topics: Sequence[NewTopic], *, validate_only: bool) -> list[CreateTopicResult]:
        # As Kafka's ControllerApis: a name given twice is refused once, after the other results.
        counts = Counter(topic.name for topic in topics)
        results: list[CreateTopicResult] = []
        batch: list[r.MetadataRecord] = []
        for topic in topics:
            if counts[topic.name] > 1:
                continue
            result, records = self._plan_topic(topic)
            results.append(result)
            if result.error.code == ErrorCode.none and not validate_only:
                batch.extend(records)
        results.extend(
            CreateTopicResult(name, ApiError(ErrorCode.invalid_request, "Duplicate topic name."))
            for name, count in counts.items()
            if count > 1
        )
        self.commit(batch)
        return results

    def _plan_topic(self, topic: NewTopic) -> tuple[CreateTopicResult, list[r.MetadataRecord]]:
        def fail(code: ErrorCode, message: str) -> tuple[CreateTopicResult, list[r.MetadataRecord]]:
            return CreateTopicResult(topic.name, ApiError(code, message)), []

        if (reason := topic_names.invalid_reason(topic.name)) is not None:
            return fail(ErrorCode.invalid_topic_exception, reason)
        if topic.name in self.image.topics_by_name:
            return fail(ErrorCode.topic_already_exists, f"Topic '{topic.name}' already exists.")
        unified = topic_names.unify_collision_chars(topic.name)
        for existing in self.image.topics_by_name:
            if topic_names.unify_collision_chars(existing) == unified:
                return fail(
                    ErrorCode.invalid_topic_exception,
                    f"Topic '{topic.name}' collides with existing topic: {existing}",
                )
        # Kafka validates every config before it looks at partitions and replicas.
        try:
            configs = self._validate_topic_configs(topic.configs)
        except ConfigError as exc:
            return fail(ErrorCode(exc.error_code), str(exc))
        if topic.assignments:
            if topic.replication_factor != -1:
                return fail(
                    ErrorCode.invalid_request,
                    "A manual partition assignment was specified, but replication factor was not set to -1.",
                )
            if topic.num_partitions != -1:
                return fail(
                    ErrorCode.invalid_request,
                    "A manual partition assignment was specified, but numPartitions was not set to -1.",
                )
            assignment_error = self._check_assignments(topic.assignments, replication_factor=None)
            if assignment_error is None and sorted(topic.assignments) != list(range(len(topic.assignments))):
                assignment_error = "partitions should be a consecutive 0-based integer sequence"
            if assignment_error is not None:
                return fail(ErrorCode.invalid_replica_assignment, assignment_error)
            assignments = {p: tuple(replicas) for p, replicas in sorted(topic.assignments.items())}
        else:
            # Kafka's order: the replication factor is checked before the partition count.
            if topic.replication_factor < -1 or topic.replication_factor == 0:
                return fail(
                    ErrorCode.invalid_replication_factor,
                    "Replication factor must be larger than 0, or -1 to use the default value.",
                )
            if topic.num_partitions < -1 or topic.num_partitions == 0:
                return fail(
                    ErrorCode.invalid_partitions,
                    "Number of partitions was set to an invalid non-positive value.",
                )
            num_partitions = (
                self._default_num_partitions if topic.num_partitions == -1 else topic.num_partitions
            )
            rf = (
                self._default_replication_factor
                if topic.replication_factor == -1
                else topic.replication_factor
            )
            if rf > len(self.live_brokers):
                return fail(
                    ErrorCode.invalid_replication_factor,
                    f"Unable to replicate the partition {rf} time(s): The target replication factor of {rf} "
                    f"cannot be reached because only {len(self.live_brokers)} broker(s) are registered "
                    "or some brokers have all their log directories cordoned.",
                )
            assignments = self._assign_replicas(range(num_partitions), rf)

        topic_id = random_topic_id()
        records: list[r.MetadataRecord] = [r.TopicRecord(name=topic.name, topic_id=topic_id)]
        records.extend(
            r.ConfigRecord(resource_type=r.TOPIC_RESOURCE, resource_name=topic.name, name=k, value=v)
            for k, v in sorted(configs.items())
        )
        records.extend(
            r.PartitionRecord(
                topic_id=topic_id, partition_id=p, replicas=replicas, isr=replicas, leader=replicas[0]
            )
            for p, replicas in assignments.items()
        )
        first = next(iter(assignments.values()))
        result = CreateTopicResult(
            topic.name,
            NONE,
            topic_id=topic_id,
            num_partitions=len(assignments),
            replication_factor=len(first),
            configs=configs,
        )
        return result, records

    def _check_assignments(
        self, assignments: Mapping[int, Sequence[int]], *, replication_factor: int | None
    ) -> str | None:
        """Kafka's ``validateManualPartitionAssignment`` over the partitions in request order: the
        first sets the replication factor the others must have (unless ``replication_factor`` does)."""
        live = set(self.live_brokers)
        manual = "The manual partition assignment includes"
        for replicas in assignments.values():
            if not replicas:
                return f"{manual} an empty replica list."
            previous = None
            for broker in sorted(replicas):
                if broker not in live:
                    return f"{manual} broker {broker}, but no such broker is registered."
                if broker == previous:
                    return f"{manual} the broker {broker} more than once."
                previous = broker
            if replication_factor is not None and len(replicas) != replication_factor:
                return (
                    f"{manual} a partition with {len(replicas)} replica(s), but this is not consistent "
                    f"with previous partitions, which have {replication_factor} replica(s)."
                )
            replication_factor = len(replicas)
        return None

    def _assign_replicas(self, partitions: range, rf: int) -> dict[int, tuple[int, ...]]:
        # Round-robin with a per-partition shift, so leaders spread over the brokers.
        brokers = self.live_brokers
        n = len(brokers)
        return {p: tuple(brokers[(p + i) % n] for i in range(rf)) for p in partitions}

    def delete_topics(self, names: Sequence[str]) -> dict[str, ApiError]:
        results: dict[str, ApiError] = {}
        batch: list[r.MetadataRecord] = []
        for name in names:
            topic = self.image.topics_by_name.get(name)
            if topic is None:
                results[name] = ApiError(
                    ErrorCode.unknown_topic_or_partition, "This server does not host this topic-partition."
                )
            elif not self._delete_topic_enable:
                results[name] = ApiError(ErrorCode.topic_deletion_disabled, "Topic deletion is disabled.")
            else:
                results[name] = NONE
                batch.append(r.RemoveTopicRecord(topic_id=topic.topic_id))
        self.commit(batch)
        return results

    def topic_by_id(self, topic_id: uuid.UUID) -> TopicImage | None:
        return self.image.topics_by_id.get(topic_id)

    def create_partitions(
        self,
        *,
        name: str,
        count: int,
        assignments: Sequence[Sequence[int]] | None,
        validate_only: bool,
    ) -> ApiError:
        topic = self.image.topics_by_name.get(name)
        if topic is None:
            return ApiError(ErrorCode.unknown_topic_or_partition)  # Kafka sends no message here
        current = len(topic.partitions)
        if count < current:
            return ApiError(
                ErrorCode.invalid_partitions,
                f"The topic {name} currently has {current} partition(s); {count} would not be an increase.",
            )
        if count == current:
            return ApiError(ErrorCode.invalid_partitions, f"Topic already has {current} partition(s).")
        rf = len(topic.partitions[0].replicas)
        if assignments is not None:
            if len(assignments) != count - current:
                return ApiError(
                    ErrorCode.invalid_replica_assignment,
                    f"Attempted to add {count - current} additional partition(s), but only "
                    f"{len(assignments)} assignment(s) were specified.",
                )
            new = dict(enumerate(assignments, start=current))
            if (error := self._check_assignments(new, replication_factor=rf)) is not None:
                return ApiError(ErrorCode.invalid_replica_assignment, error)
            planned = {p: tuple(replicas) for p, replicas in new.items()}
        else:
            planned = self._assign_replicas(range(current, count), rf)
        if not validate_only:
            self.commit(
                [
                    r.PartitionRecord(
                        topic_id=topic.topic_id,
                        partition_id=p,
                        replicas=replicas,
                        isr=replicas,
                        leader=replicas[0],
                    )
                    for p, replicas in planned.items()
                ]
            )
        return NONE

    # --- configs ----------------------------------------------------------------------

    def set_topic_configs(
        self, name: str, configs: Mapping[str, str | None], *, validate_only: bool
    ) -> ApiError:
        """Make ``configs`` the complete set of a topic's overrides; keys absent from it are removed."""
        if name not in self.image.topics_by_name:
            return ApiError(ErrorCode.unknown_topic_or_partition, f"The topic '{name}' does not exist.")
        try:
            normalized = self._validate_topic_configs(configs)
        except ConfigError as exc:
            return ApiError(ErrorCode(exc.error_code), str(exc))
        if not validate_only:
            self.commit(self._config_changes(r.TOPIC_RESOURCE, name, normalized))
        return NONE

    def set_broker_configs(
        self, resource_name: str, configs: Mapping[str, str], *, validate_only: bool
    ) -> ApiError:
        """Make ``configs`` the complete set of dynamic configs of a broker ("" = cluster default).

        The caller has validated the values (only dynamically updatable broker configs).
        """
        if not validate_only:
            self.commit(self._config_changes(r.BROKER_RESOURCE, resource_name, configs))
        return NONE

    def _config_changes(
        self, resource_type: int, name: str, new: Mapping[str, str]
    ) -> list[r.MetadataRecord]:
        current = self.image.configs.get((resource_type, name), {})
        batch: list[r.MetadataRecord] = [
            r.ConfigRecord(resource_type=resource_type, resource_name=name, name=key, value=None)
            for key in sorted(current)
            if key not in new
        ]
        batch.extend(
            r.ConfigRecord(resource_type=resource_type, resource_name=name, name=key, value=value)
            for key, value in sorted(new.items())
            if current.get(key) != value
        )
        return batch

    def close(self) -> None:
        self._log.close()

    # --- producer ids -----------------------------------------------------------------

    def allocate_producer_ids(self) -> range:
        """Reserve the next block of producer ids for this broker (persisted before use)."""
        start = self.image.next_producer_id
        self.commit(
            [r.ProducerIdsRecord(broker_id=self.node_id, next_producer_id=start + PRODUCER_ID_BLOCK_SIZE)]
        )
        return range(start, start + PRODUCER_ID_BLOCK_SIZE)
