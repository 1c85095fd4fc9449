"""Configs side by side: DescribeConfigs (topic and broker), IncrementalAlterConfigs, AlterConfigs.

What is compared is what `kafka-configs --describe --all` and admin clients show: every entry's
name, value, source, read-only and sensitive flags, type and synonyms, and the error code and
message of every refused change. Broker-level changes are undone before a scenario returns:
both brokers are shared with other scenarios of the worker.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from differential import admin, differences
from differential.admin import APPEND, BROKER_RESOURCE, DELETE, SET, SUBTRACT, TOPIC_RESOURCE
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
from kio.schema.alter_configs.v2.request import AlterableConfig, AlterConfigsRequest, AlterConfigsResource
from kio.static.primitive import i8

pytestmark = [pytest.mark.kafka_ref, pytest.mark.xdist_group("kafka_ref")]

# Source ids (DescribeConfigsResponse): what `kafka-configs` prints as DYNAMIC_TOPIC_CONFIG etc.
DYNAMIC_TOPIC, DYNAMIC_BROKER, DYNAMIC_DEFAULT_BROKER, STATIC_BROKER, DEFAULT = 1, 2, 3, 4, 5

#: Broker configs that are defaults for topic configs, and the broker settings clients look at.
BROKER_TOPIC_DEFAULTS = [
    "auto.create.topics.enable",
    "compression.type",
    "default.replication.factor",
    "delete.topic.enable",
    "log.cleanup.policy",
    "log.index.interval.bytes",
    "log.index.size.max.bytes",
    "log.message.timestamp.after.max.ms",
    "log.message.timestamp.before.max.ms",
    "log.message.timestamp.type",
    "log.retention.bytes",
    "log.retention.hours",
    "log.retention.minutes",
    "log.retention.ms",
    "log.roll.hours",
    "log.roll.ms",
    "log.segment.bytes",
    "log.segment.delete.delay.ms",
    "message.max.bytes",
    "min.insync.replicas",
    "num.partitions",
    "unclean.leader.election.enable",
]


def test_same_as_kafka(scenario: Scenario, targets: dict[str, Target]) -> None:
    run_scenario(scenario, targets)


def _entries(t: Target, result: Any) -> Observation:
    """A DescribeConfigs result as {name: entry}, messages scrubbed."""
    return {
        "error_code": plain(result.error_code),
        "error_message": t.scrub(result.error_message),
        "configs": {
            c.name: {
                "value": c.value,
                "source": int(c.config_source),
                "read_only": c.read_only,
                "sensitive": c.is_sensitive,
                "type": int(c.config_type),
                "synonyms": [(s.name, s.value, int(s.source)) for s in c.synonyms],
            }
            for c in result.configs
        },
    }


def _overrides(t: Target, topic: str) -> Observation:
    described = admin.describe_configs(t, TOPIC_RESOURCE, topic)
    return {c.name: c.value for c in described.configs if int(c.config_source) == DYNAMIC_TOPIC}


@differs_on_purpose(differences.ELR_MIN_INSYNC, brook=differences.without_elr_min_insync)
@scenario
def describe_topic_defaults(t: Target) -> Observation:
    """DescribeConfigs of a topic without overrides: every entry, source, flag, type and synonym."""
    name = t.topic()
    admin.create_topic(t, name)
    return _entries(t, admin.describe_configs(t, TOPIC_RESOURCE, name))


@differs_on_purpose(differences.ELR_MIN_INSYNC, brook=differences.without_elr_min_insync)
@scenario
def describe_topic_overrides(t: Target) -> Observation:
    """DescribeConfigs of a topic with overrides: DYNAMIC_TOPIC_CONFIG, then the defaults in the synonyms."""
    name = t.topic()
    overrides = {
        "retention.ms": "3600000",
        "cleanup.policy": "compact,delete",
        "max.message.bytes": "2000",
        "min.insync.replicas": "1",
        "message.timestamp.type": "LogAppendTime",
        "segment.bytes": "1048576",
    }
    admin.create_topic(t, name, configs=overrides)
    return _entries(t, admin.describe_configs(t, TOPIC_RESOURCE, name))


@scenario
def describe_topic_selected_keys(t: Target) -> Observation:
    """DescribeConfigs with configuration_keys returns just those, and nothing for unknown names."""
    name = t.topic()
    admin.create_topic(t, name, configs={"retention.ms": "1000"})
    keys = ["retention.ms", "segment.bytes", "no.such.config"]
    return _entries(t, admin.describe_configs(t, TOPIC_RESOURCE, name, keys=keys))


@scenario
def describe_errors(t: Target) -> Observation:
    """DescribeConfigs of an unknown topic, an invalid topic name, and broker ids that are not this broker."""
    return {
        "unknown_topic": _entries(t, admin.describe_configs(t, TOPIC_RESOURCE, t.topic("missing"))),
        "invalid_topic_name": _entries(t, admin.describe_configs(t, TOPIC_RESOURCE, "bad/name")),
        "other_broker": _entries(t, admin.describe_configs(t, BROKER_RESOURCE, "7")),
        "non_numeric_broker": _entries(t, admin.describe_configs(t, BROKER_RESOURCE, "one")),
    }


@differs_on_purpose(differences.ELR_MIN_INSYNC, brook=differences.without_elr_min_insync)
@scenario
def describe_broker_topic_defaults(t: Target) -> Observation:
    """DescribeConfigs of the broker (by id) for the topic-default keys: values, sources, synonyms."""
    return _entries(t, admin.describe_configs(t, BROKER_RESOURCE, str(t.node_id), keys=BROKER_TOPIC_DEFAULTS))


@differs_on_purpose(differences.ELR_MIN_INSYNC, brook=differences.without_cluster_min_insync)
@scenario
def describe_cluster_default(t: Target) -> Observation:
    """DescribeConfigs of the cluster default resource ("") lists only what was set dynamically there."""
    return _entries(t, admin.describe_configs(t, BROKER_RESOURCE, ""))


@scenario
def incremental_alter_topic(t: Target) -> Observation:
    """IncrementalAlterConfigs SET, DELETE, APPEND and SUBTRACT on a topic, and the overrides after each."""
    name = t.topic()
    admin.create_topic(t, name, configs={"segment.ms": "600000"})
    steps: list[tuple[str, list[tuple[str, int, str | None]]]] = [
        ("set", [("retention.ms", SET, "5000"), ("max.message.bytes", SET, "3000")]),
        ("delete", [("segment.ms", DELETE, None)]),
        ("append", [("cleanup.policy", APPEND, "compact")]),
        ("subtract", [("cleanup.policy", SUBTRACT, "delete")]),
        ("delete_absent", [("flush.ms", DELETE, None)]),
    ]
    seen = {}
    for label, ops in steps:
        result = admin.incremental_alter(t, TOPIC_RESOURCE, name, ops)
        expected_keys = {n for n, op, _ in ops if op != DELETE}

        def applied(overrides: Observation, keys: set[str] = expected_keys) -> bool:
            return bool(keys <= overrides.keys())

        overrides = wait_for(lambda: _overrides(t, name), applied)
        seen[label] = {"result": _alter_result(t, result), "overrides": overrides}
    return seen


def _alter_result(t: Target, result: Any) -> Observation:
    return {"error_code": plain(result.error_code), "error_message": t.scrub(result.error_message)}


@scenario
def incremental_alter_errors(t: Target) -> Observation:
    """Refused IncrementalAlterConfigs: bad value, unknown name, unknown topic, bad ops; nothing changes."""
    name = t.topic()
    admin.create_topic(t, name)
    cases: dict[str, tuple[int, str, list[tuple[str, int, str | None]]]] = {
        "invalid_value": (TOPIC_RESOURCE, name, [("retention.ms", SET, "soon")]),
        "below_minimum": (TOPIC_RESOURCE, name, [("segment.bytes", SET, "10")]),
        "unknown_name": (TOPIC_RESOURCE, name, [("retention", SET, "1")]),
        "null_value": (TOPIC_RESOURCE, name, [("retention.ms", SET, None)]),
        "append_to_scalar": (TOPIC_RESOURCE, name, [("retention.ms", APPEND, "1")]),
        "duplicate_key": (TOPIC_RESOURCE, name, [("retention.ms", SET, "1"), ("retention.ms", SET, "2")]),
        "unknown_topic": (TOPIC_RESOURCE, t.topic("missing"), [("retention.ms", SET, "1")]),
        "broker_config_on_topic": (TOPIC_RESOURCE, name, [("log.retention.ms", SET, "1")]),
        "topic_config_on_broker": (BROKER_RESOURCE, "", [("retention.ms", SET, "1")]),
        "static_broker_config": (BROKER_RESOURCE, str(t.node_id), [("log.dirs", SET, "/tmp/x")]),
        "other_broker": (BROKER_RESOURCE, "7", [("log.retention.ms", SET, "1")]),
        "non_numeric_broker": (BROKER_RESOURCE, "x", [("log.retention.ms", SET, "1")]),
        "invalid_broker_value": (BROKER_RESOURCE, str(t.node_id), [("log.retention.ms", SET, "abc")]),
        "invalid_cluster_value": (BROKER_RESOURCE, "", [("min.insync.replicas", SET, "0")]),
        "non_dynamic_broker_config": (BROKER_RESOURCE, str(t.node_id), [("num.partitions", SET, "3")]),
        "unknown_broker_config": (BROKER_RESOURCE, "", [("no.such.broker.config", SET, "x")]),
    }
    results = {
        label: _alter_result(t, admin.incremental_alter(t, kind, resource, ops, validate_only=True))
        for label, (kind, resource, ops) in cases.items()
    }
    return {"results": results, "overrides_after": _overrides(t, name)}


@differs_on_purpose(
    differences.UNKNOWN_ALTER_OPERATION, brook=differences.invalid_request_for_unknown_operation
)
@scenario
def incremental_alter_unknown_operation(t: Target) -> Observation:
    """An IncrementalAlterConfigs operation id outside SET/DELETE/APPEND/SUBTRACT is refused."""
    name = t.topic()
    admin.create_topic(t, name)
    return _alter_result(t, admin.incremental_alter(t, TOPIC_RESOURCE, name, [("retention.ms", 9, "1")]))


@contextmanager
def _broker_config(t: Target, resource: str, name: str, value: str) -> Iterator[Observation]:
    """Set a dynamic broker config for the block, delete it afterwards (both brokers are shared)."""
    result = admin.incremental_alter(t, BROKER_RESOURCE, resource, [(name, SET, value)])
    try:
        yield _alter_result(t, result)
    finally:
        admin.incremental_alter(t, BROKER_RESOURCE, resource, [(name, DELETE, None)])


def _topic_entry(t: Target, topic: str, key: str) -> Callable[[], Observation]:
    def probe() -> Observation:
        entries = _entries(t, admin.describe_configs(t, TOPIC_RESOURCE, topic, keys=[key]))
        return entries["configs"].get(key)

    return probe


@scenario
def broker_default_reaches_topics(t: Target) -> Observation:
    """A dynamic cluster default, then a per-broker value, of log.retention.ms shows in a topic's config.

    The sources change from DEFAULT_CONFIG to DYNAMIC_DEFAULT_BROKER_CONFIG to DYNAMIC_BROKER_CONFIG,
    and the synonyms list every layer, most specific first.
    """
    name = t.topic()
    admin.create_topic(t, name)
    probe = _topic_entry(t, name, "retention.ms")
    seen: dict[str, Observation] = {"initially": probe()}
    with _broker_config(t, "", "log.retention.ms", "7200000") as result:
        seen["cluster_default_result"] = result
        seen["with_cluster_default"] = wait_for(probe, lambda e: e["value"] == "7200000")
        seen["cluster_resource"] = _entries(
            t, admin.describe_configs(t, BROKER_RESOURCE, "", keys=["log.retention.ms"])
        )
        with _broker_config(t, str(t.node_id), "log.retention.ms", "3600000") as broker_result:
            seen["broker_result"] = broker_result
            seen["with_broker_value"] = wait_for(probe, lambda e: e["value"] == "3600000")
    seen["after_deletes"] = wait_for(probe, lambda e: e["source"] == DEFAULT and e["value"] == "604800000")
    return seen


@scenario
def alter_configs_legacy(t: Target) -> Observation:
    """AlterConfigs (the non-incremental API) replaces a topic's whole override set."""
    name = t.topic()
    admin.create_topic(t, name, configs={"retention.ms": "5000", "segment.ms": "600000"})
    request = AlterConfigsRequest(
        resources=(
            AlterConfigsResource(
                resource_type=i8(TOPIC_RESOURCE),
                resource_name=name,
                configs=(AlterableConfig(name="max.message.bytes", value="4000"),),
            ),
        ),
        validate_only=False,
    )
    [result] = t.call(request).responses
    overrides = wait_for(lambda: _overrides(t, name), lambda o: "max.message.bytes" in o)
    missing = AlterConfigsRequest(
        resources=(
            AlterConfigsResource(
                resource_type=i8(TOPIC_RESOURCE),
                resource_name=t.topic("missing"),
                configs=(AlterableConfig(name="retention.ms", value="1"),),
            ),
        ),
        validate_only=False,
    )
    [unknown] = t.call(missing).responses
    return {
        "result": _alter_result(t, result),
        "overrides": overrides,
        "unknown_topic": _alter_result(t, unknown),
    }
