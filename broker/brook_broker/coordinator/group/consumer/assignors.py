"""The server-side partition assignors of KIP-848: ``uniform`` (Kafka's default) and ``range``.

An assignor maps a `GroupSpec` — each member's subscribed topic ids and its current target
assignment, and the partition count of every subscribed topic — to the new target assignment.
Pure functions, called by `target.build_target_assignment` on every group epoch bump:

- **uniform** (Kafka's ``UniformAssignor``): balanced first, sticky second. When every member
  subscribes to the same topics each gets ``partitions // members`` or one more, and keeps as
  many of its current partitions as that allows (the members that hold the most get the
  extra slots, so fewer partitions move). When subscriptions differ, each partition goes to the
  least loaded member subscribed to its topic, then partitions move from the most to the least
  loaded eligible member until no move improves the balance.
- **range** (Kafka's ``RangeAssignor``): for each topic, contiguous ranges in member order —
  static members by instance id first, then the others by member id — so that topics with
  equal partition counts are co-partitioned. Not sticky, as in Kafka.

Rack awareness (Kafka matches partitions' replica racks to members' ``rack_id``) is left out.
"""

from __future__ import annotations

import dataclasses
import itertools
import uuid
from collections.abc import Callable, Iterable, Mapping
from typing import TypeAlias

from brook_broker.coordinator.group.consumer.member import Assignment

UNIFORM = "uniform"
RANGE = "range"
#: What ``group.consumer.assignors`` may also name them by (Kafka accepts class names).
_CLASS_NAMES = {
    "org.apache.kafka.coordinator.group.assignor.UniformAssignor": UNIFORM,
    "org.apache.kafka.coordinator.group.assignor.RangeAssignor": RANGE,
}

TopicPartition: TypeAlias = tuple[uuid.UUID, int]
GroupAssignment: TypeAlias = dict[str, dict[uuid.UUID, frozenset[int]]]


@dataclasses.dataclass(frozen=True, slots=True)
class MemberSpec:
    instance_id: str | None
    subscribed_topic_ids: frozenset[uuid.UUID]
    #: The member's current *target* assignment (what stickiness preserves).
    assignment: Assignment


@dataclasses.dataclass(frozen=True, slots=True)
class GroupSpec:
    members: Mapping[str, MemberSpec]
    #: Partition count of every topic some member subscribes to and that exists.
    partitions: Mapping[uuid.UUID, int]

    def is_homogeneous(self) -> bool:
        return len({m.subscribed_topic_ids for m in self.members.values()}) <= 1

    def subscribed(self, member: MemberSpec) -> list[uuid.UUID]:
        """The member's topics that exist, in a stable order."""
        return sorted((t for t in member.subscribed_topic_ids if t in self.partitions), key=str)


Assignor: TypeAlias = Callable[[GroupSpec], GroupAssignment]


def assignor_name(configured: str) -> str:
    """The assignor a ``group.consumer.assignors`` entry names; ValueError for unknown ones."""
    name = _CLASS_NAMES.get(configured, configured)
    if name not in ASSIGNORS:
        raise ValueError(f"unknown consumer group assignor {configured}")
    return name


# --- uniform --------------------------------------------------------------------------------


def uniform(spec: GroupSpec) -> GroupAssignment:
    if not spec.members:
        return {}
    kept = _valid_current_assignments(spec)
    if spec.is_homogeneous():
        return _finish(_uniform_homogeneous(spec, kept))
    return _finish(_uniform_heterogeneous(spec, kept))


def _valid_current_assignments(spec: GroupSpec) -> dict[str, set[TopicPartition]]:
    """Each member's current partitions that still exist and that it still subscribes to.

    A partition claimed by two members (possible only mid-replacement) stays with the first.
    """
    claimed: set[TopicPartition] = set()
    kept: dict[str, set[TopicPartition]] = {}
    for member_id in sorted(spec.members):
        member = spec.members[member_id]
        kept[member_id] = set()
        for topic_id, partitions in member.assignment.items():
            if topic_id not in member.subscribed_topic_ids or topic_id not in spec.partitions:
                continue
            for partition in partitions:
                if partition < spec.partitions[topic_id] and (topic_id, partition) not in claimed:
                    claimed.add((topic_id, partition))
                    kept[member_id].add((topic_id, partition))
    return kept


def _all_partitions(spec: GroupSpec, topics: Iterable[uuid.UUID]) -> list[TopicPartition]:
    return [(t, p) for t in sorted(set(topics), key=str) for p in range(spec.partitions[t])]


def _uniform_homogeneous(
    spec: GroupSpec, kept: dict[str, set[TopicPartition]]
) -> dict[str, set[TopicPartition]]:
    members = sorted(spec.members)
    everything = _all_partitions(spec, spec.subscribed(spec.members[members[0]]))
    minimum, extra = divmod(len(everything), len(members))
    # The extra slots go to the members that already hold the most: fewer partitions move.
    by_holding = sorted(members, key=lambda m: (-len(kept[m]), m))
    quota = {m: minimum + (1 if i < extra else 0) for i, m in enumerate(by_holding)}
    for member_id in members:
        owned = sorted(kept[member_id], key=_order)
        if len(owned) > quota[member_id]:
            kept[member_id] = set(owned[: quota[member_id]])  # the rest is revoked
    taken = {tp for partitions in kept.values() for tp in partitions}
    remaining = iter([tp for tp in everything if tp not in taken])
    for member_id in members:
        for tp in itertools.islice(remaining, max(quota[member_id] - len(kept[member_id]), 0)):
            kept[member_id].add(tp)
    return kept


def _uniform_heterogeneous(
    spec: GroupSpec, kept: dict[str, set[TopicPartition]]
) -> dict[str, set[TopicPartition]]:
    subscribers: dict[uuid.UUID, list[str]] = {}
    for member_id in sorted(spec.members):
        for topic_id in spec.subscribed(spec.members[member_id]):
            subscribers.setdefault(topic_id, []).append(member_id)
    owner = {tp: member_id for member_id, partitions in kept.items() for tp in partitions}
    # Topics with the fewest subscribers first: their partitions have the fewest places to go.
    topics = sorted(subscribers, key=lambda t: (len(subscribers[t]), str(t)))
    for topic_id in topics:
        for partition in range(spec.partitions[topic_id]):
            if (topic_id, partition) not in owner:
                target = min(subscribers[topic_id], key=lambda m: (len(kept[m]), m))
                kept[target].add((topic_id, partition))
                owner[(topic_id, partition)] = target
    # Rebalance: move a partition to a less loaded eligible member while that narrows the gap.
    moved = True
    while moved:
        moved = False
        for tp in sorted(owner, key=_order):
            current = owner[tp]
            target = min(subscribers[tp[0]], key=lambda m: (len(kept[m]), m))
            if len(kept[current]) - len(kept[target]) > 1:
                kept[current].discard(tp)
                kept[target].add(tp)
                owner[tp] = target
                moved = True
    return kept


# --- range ----------------------------------------------------------------------------------


def range_(spec: GroupSpec) -> GroupAssignment:
    # Static members first, by instance id (stable across restarts), then the others by id.
    order = sorted(
        spec.members,
        key=lambda m: (0, spec.members[m].instance_id, m) if spec.members[m].instance_id else (1, "", m),
    )
    result: dict[str, set[TopicPartition]] = {m: set() for m in spec.members}
    for topic_id, count in spec.partitions.items():
        subscribers = [m for m in order if topic_id in spec.members[m].subscribed_topic_ids]
        if not subscribers:
            continue
        minimum, extra = divmod(count, len(subscribers))
        start = 0
        for index, member_id in enumerate(subscribers):
            end = start + minimum + (1 if index < extra else 0)
            result[member_id].update((topic_id, p) for p in range(start, end))
            start = end
    return _finish(result)


# --- helpers --------------------------------------------------------------------------------


def _order(tp: TopicPartition) -> tuple[str, int]:
    return str(tp[0]), tp[1]


def _finish(assignment: Mapping[str, set[TopicPartition]]) -> GroupAssignment:
    result: GroupAssignment = {}
    for member_id, partitions in assignment.items():
        by_topic: dict[uuid.UUID, set[int]] = {}
        for topic_id, partition in partitions:
            by_topic.setdefault(topic_id, set()).add(partition)
        result[member_id] = {topic_id: frozenset(p) for topic_id, p in by_topic.items()}
    return result


ASSIGNORS: dict[str, Assignor] = {UNIFORM: uniform, RANGE: range_}
