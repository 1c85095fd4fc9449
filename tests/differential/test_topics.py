"""Topics side by side: CreateTopics, DeleteTopics, CreatePartitions and the Metadata a client sees.

Every scenario sends the same raw requests to Apache Kafka 4.3 and to Brook and compares error
codes, error messages and the resulting metadata (leaders, replicas, ISR, epochs, internal flags).
"""

from __future__ import annotations

import dataclasses
import uuid
from typing import Any

import pytest
from differential import admin, differences
from differential.framework import (
    Observation,
    Scenario,
    Target,
    differs_on_purpose,
    plain,
    run_scenario,
    scenario,
    wait_for,
)
from kio.schema.find_coordinator.v4.request import FindCoordinatorRequest
from kio.schema.types import TopicName
from kio.static.primitive import i8, i16, i32

pytestmark = [pytest.mark.kafka_ref, pytest.mark.xdist_group("kafka_ref")]


def test_same_as_kafka(scenario: Scenario, targets: dict[str, Target]) -> None:
    run_scenario(scenario, targets)


def _result(t: Target, result: Any, *, configs: bool = True) -> Observation:
    """A CreateTopics result (ids made plain), messages scrubbed of addresses; ``configs=False``
    keeps only the number of config entries (they are compared by create_topic_result)."""
    seen = plain(result)
    seen["error_message"] = t.scrub(seen["error_message"])
    if not configs and "configs" in seen:
        seen["configs"] = len(seen["configs"] or [])
    return seen


def _topic_metadata(t: Target, name: str) -> Observation:
    [topic] = admin.metadata(t, [name]).topics
    return {
        "error_code": plain(topic.error_code),
        "name": topic.name,
        "topic_id": plain(topic.topic_id),
        "is_internal": topic.is_internal,
        "partitions": [
            {
                "partition": int(p.partition_index),
                "error_code": plain(p.error_code),
                "leader": t.node(p.leader_id),
                "leader_epoch": int(p.leader_epoch),
                "replicas": [t.node(r) for r in p.replica_nodes],
                "isr": [t.node(r) for r in p.isr_nodes],
                "offline": [t.node(r) for r in p.offline_replicas],
            }
            for p in sorted(topic.partitions, key=lambda p: int(p.partition_index))
        ],
    }


@differs_on_purpose(differences.ELR_MIN_INSYNC, brook=differences.without_elr_min_insync)
@scenario
def create_topic_result(t: Target) -> Observation:
    """A successful CreateTopics v7 answers with the partition count, RF and every config, as Kafka does."""
    name = t.topic()
    [result] = admin.create_topics(
        t,
        [
            admin.new_topic(
                name, partitions=3, configs={"retention.ms": "3600000", "cleanup.policy": "compact"}
            )
        ],
    )
    seen = _result(t, result)
    seen["configs"] = sorted(seen["configs"] or [], key=lambda c: c["name"])
    return seen


@scenario
def create_topic_validate_only(t: Target) -> Observation:
    """validate_only checks and answers like a real create, but the topic does not exist afterwards."""
    name = t.topic()
    [result] = admin.create_topics(t, [admin.new_topic(name, partitions=2)], validate_only=True)
    seen = _result(t, result)
    seen["configs"] = sorted(c["name"] for c in seen["configs"] or [])
    return {"result": seen, "metadata_after": _topic_metadata(t, name)}


@scenario
def create_existing_topic(t: Target) -> Observation:
    """Creating a topic twice: TOPIC_ALREADY_EXISTS with Kafka's message, the first one untouched."""
    name = t.topic()
    admin.create_topic(t, name, partitions=2)
    [again] = admin.create_topics(t, [admin.new_topic(name, partitions=5)])
    return {"again": _result(t, again), "metadata": _topic_metadata(t, name)}


@scenario
def create_duplicate_in_one_request(t: Target) -> Observation:
    """The same name twice in one CreateTopics request: one INVALID_REQUEST result for it, after the others,
    and it is not created."""
    name = t.topic()
    results = admin.create_topics(
        t,
        [
            admin.new_topic(name),
            admin.new_topic(f"{name}-b"),
            admin.new_topic(name),
            admin.new_topic(f"{name}-c"),
        ],
    )
    return {
        "results": [_result(t, r, configs=False) for r in results],
        "created": _topic_metadata(t, name)["error_code"],
    }


INVALID_NAMES = ["", ".", "..", "bad/name", "bad name", "ünïcode", "x" * 250]


@scenario
def create_invalid_topic_names(t: Target) -> Observation:
    """Illegal names (empty, '.', '..', bad characters, longer than 249) get INVALID_TOPIC_EXCEPTION."""
    results = admin.create_topics(t, [admin.new_topic(n) for n in INVALID_NAMES])
    return [_result(t, r) for r in results]


@scenario
def create_colliding_topic_name(t: Target) -> Observation:
    """'a.b' and 'a_b' collide in metric names: the second one is refused with INVALID_TOPIC_EXCEPTION."""
    base = t.topic()
    admin.create_topic(t, f"{base}.x")
    [result] = admin.create_topics(t, [admin.new_topic(f"{base}_x")])
    return _result(t, result)


@scenario
def create_invalid_counts(t: Target) -> Observation:
    """Zero or negative partitions/RF (RF is checked first), RF above the broker count, defaults (-1)."""
    name = t.topic()
    topics = [
        admin.new_topic(f"{name}-p0", partitions=0),
        admin.new_topic(f"{name}-pneg", partitions=-5),
        admin.new_topic(f"{name}-rf0", replication_factor=0),
        admin.new_topic(f"{name}-p0-rf0", partitions=0, replication_factor=0),
        admin.new_topic(f"{name}-rf3", replication_factor=3),
        admin.new_topic(f"{name}-p0-bad-config", partitions=0, configs={"retention.ms": "x"}),
        admin.new_topic(f"{name}-defaults", partitions=-1, replication_factor=-1),
    ]
    return [_result(t, r, configs=False) for r in admin.create_topics(t, topics, validate_only=True)]


@scenario
def create_manual_assignments(t: Target) -> Observation:
    """Manual replica assignments: valid, unknown or repeated broker, empty list, gaps, counts also set."""
    name = t.topic()
    cases: dict[str, dict[int, list[int]]] = {
        "valid": {0: [1], 1: [1]},
        "unknown_broker": {0: [1], 1: [7]},
        "negative_broker": {0: [-1]},
        "repeated_broker": {0: [1, 1]},
        "empty": {0: [1], 1: []},
        "gap": {0: [1], 2: [1]},
        "not_from_zero": {1: [1]},
    }
    topics = [admin.new_topic(f"{name}-{label}", assignments=a) for label, a in cases.items()]
    both = admin.new_topic(f"{name}-counts-set", assignments={0: [1]})
    topics.append(dataclasses.replace(both, num_partitions=i32(1)))
    topics.append(dataclasses.replace(both, name=TopicName(f"{name}-rf-set"), replication_factor=i16(1)))
    results = admin.create_topics(t, topics)
    admin.wait_for_partitions(t, f"{name}-valid", 2)
    return {
        "results": [_result(t, r, configs=False) for r in results],
        "valid_metadata": _topic_metadata(t, f"{name}-valid"),
    }


@scenario
def create_invalid_config(t: Target) -> Observation:
    """Invalid config values and unknown config names: INVALID_CONFIG with Kafka's exact message."""
    name = t.topic()
    cases: list[dict[str, str | None]] = [
        {"retention.ms": "soon"},
        {"segment.bytes": "100"},
        {"cleanup.policy": "compact,nope"},
        {"no.such.config": "1"},
        {"min.insync.replicas": "0"},
        {"max.message.bytes": "-1"},
        {"retention.ms": None},
    ]
    topics = [admin.new_topic(f"{name}-{i}", configs=c) for i, c in enumerate(cases)]
    return [_result(t, r) for r in admin.create_topics(t, topics)]


@scenario
def metadata_shape(t: Target) -> Observation:
    """Metadata for a 3-partition topic: leaders, epochs, replicas, ISR, offline, internal flag, topic id."""
    name = t.topic()
    admin.create_topic(t, name, partitions=3)
    response = admin.metadata(t, [name])
    return {
        "brokers": [
            {
                "node": t.node(b.node_id),
                "host": b.host,
                "rack": b.rack,
                "port_matches": f"{b.host}:{b.port}" == t.bootstrap,
            }
            for b in response.brokers
        ],
        "cluster_id_present": bool(response.cluster_id),
        "controller": t.node(response.controller_id),
        "topic": _topic_metadata(t, name),
    }


@scenario
def metadata_unknown_topic(t: Target) -> Observation:
    """Metadata for a missing topic (auto-creation off): UNKNOWN_TOPIC_OR_PARTITION, no partitions; for an
    illegal name INVALID_TOPIC_EXCEPTION, with or without auto-creation."""
    return {
        "missing": _topic_metadata(t, t.topic("missing")),
        "illegal": [plain(topic.error_code) for topic in admin.metadata(t, ["bad/name", ""]).topics],
        "illegal_auto_create": plain(admin.metadata(t, ["bad/name"], auto_create=True).topics[0].error_code),
    }


@differs_on_purpose(differences.AUTO_CREATE_SYNCHRONOUS, brook=differences.auto_created_at_once)
@scenario
def metadata_auto_create(t: Target) -> Observation:
    """Metadata with allow_auto_topic_creation on a broker with auto.create.topics.enable=true creates it."""
    name = t.topic("auto")
    [first] = admin.metadata(t, [name], auto_create=True).topics
    after = wait_for(
        lambda: _topic_metadata(t, name),
        lambda seen: seen["error_code"] == "none" and all(p["leader"] == "self" for p in seen["partitions"]),
    )
    return {"first_error": plain(first.error_code), "after": after}


@scenario
def metadata_all_topics(t: Target) -> Observation:
    """Metadata for all topics lists a new topic and no internal topics the user did not create."""
    name = t.topic()
    admin.create_topic(t, name)
    topics = admin.metadata(t, None).topics
    return {
        "listed": any(topic.name == name for topic in topics),
        "metadata_log_hidden": all(topic.name != "__cluster_metadata" for topic in topics),
        "internal_flags": sorted({(topic.name, topic.is_internal) for topic in topics if topic.name == name}),
    }


@scenario
def delete_topics(t: Target) -> Observation:
    """DeleteTopics: an existing topic goes away (metadata says unknown), an unknown one is an error."""
    name = t.topic()
    admin.create_topic(t, name, partitions=2)
    results = admin.delete_topics(t, [name, t.topic("never-created")])
    after = wait_for(lambda: _topic_metadata(t, name), lambda seen: seen["error_code"] != "none")
    # Kafka answers in its own (hash) order; clients key the results by name.
    ordered = sorted(results, key=lambda r: r.name)
    return {"results": [_result(t, r) for r in ordered], "metadata_after": after}


@scenario
def create_partitions(t: Target) -> Observation:
    """CreatePartitions: increase works (new partitions get leaders), decrease/same/unknown are refused."""
    name = t.topic()
    admin.create_topic(t, name, partitions=2)
    steps = {
        "validate_only_to_4": admin.create_partitions(t, name, 4, validate_only=True),
        "to_3": admin.create_partitions(t, name, 3),
        "same_3": admin.create_partitions(t, name, 3),
        "decrease_to_1": admin.create_partitions(t, name, 1),
        "zero": admin.create_partitions(t, name, 0),
        "unknown_topic": admin.create_partitions(t, t.topic("missing"), 3),
    }
    admin.wait_for_partitions(t, name, 3)
    return {
        "results": {k: _result(t, r) for k, r in steps.items()},
        "metadata_after": _topic_metadata(t, name),
    }


@scenario
def metadata_by_topic_id(t: Target) -> Observation:
    """Metadata v12 by topic id: found whether the name beside it is null or "" (as the Java
    consumer sends for a regex subscription), UNKNOWN_TOPIC_ID for an id no topic has."""
    name = t.topic()
    admin.create_topic(t, name, partitions=2)
    [known] = admin.metadata(t, [name]).topics
    seen: dict[str, Any] = {}
    for label, beside in (("null_name", None), ("empty_name", "")):
        unknown = uuid.uuid4()
        topics = admin.metadata_by_id(t, [known.topic_id, unknown], name=beside).topics
        seen[label] = sorted(
            (
                {
                    "name": topic.name,
                    "id": "known" if topic.topic_id == known.topic_id else plain(topic.topic_id == unknown),
                    "error_code": plain(topic.error_code),
                    "partitions": len(topic.partitions),
                }
                for topic in topics
            ),
            key=lambda row: str(row["id"]),
        )
    return seen


OFFSETS_TOPIC = "__consumer_offsets"


def _find_group_coordinator(t: Target, group: str) -> Observation:
    request = FindCoordinatorRequest(key_type=i8(0), coordinator_keys=(group,))
    [coordinator] = t.call(request).coordinators
    return {
        "error_code": plain(coordinator.error_code),
        "node": t.node(coordinator.node_id),
        "address_matches": f"{coordinator.host}:{coordinator.port}" == t.bootstrap,
    }


@scenario
def metadata_internal_topic(t: Target) -> Observation:
    """__consumer_offsets, created by the first FindCoordinator: an internal topic (is_internal) with
    offsets.topic.num.partitions partitions, Kafka's overrides (compact, 100 MiB segments), listed among
    all topics, and refused by CreateTopics as existing."""

    def ready(seen: Observation) -> bool:
        return seen["error_code"] == "none" and all(p["leader"] == "self" for p in seen["partitions"])

    coordinator = wait_for(
        lambda: _find_group_coordinator(t, t.topic("group")), lambda c: c["error_code"] == "none"
    )
    metadata = wait_for(lambda: _topic_metadata(t, OFFSETS_TOPIC), ready)
    partitions = metadata["partitions"]
    described = admin.describe_configs(t, admin.TOPIC_RESOURCE, OFFSETS_TOPIC)
    listed = [topic for topic in admin.metadata(t, None).topics if topic.name == OFFSETS_TOPIC]
    [create] = admin.create_topics(t, [admin.new_topic(OFFSETS_TOPIC)], validate_only=True)
    return {
        "coordinator": coordinator,
        "metadata": {**metadata, "partitions": len(partitions), "first_partition": partitions[0]},
        "overrides": {c.name: c.value for c in described.configs if int(c.config_source) == 1},
        "listed_internal": [topic.is_internal for topic in listed],
        "create_again": _result(t, create, configs=False),
    }
