"""The server-side assignors (``uniform``, ``range``), property-based.

For any group — members subscribing to the same or to different topics, with or without a
previous assignment — every partition a member subscribes to is assigned exactly once, and
only to a subscribed member. ``uniform`` is balanced (within one partition when every member
subscribes to the same topics; no single move improves the balance otherwise) and sticky: an
unchanged group keeps its assignment, and when members come and go each survivor only gains
or only loses partitions. ``range`` gives contiguous ranges and co-partitions equal topics.
"""

from __future__ import annotations

import uuid

from hypothesis import given, settings
from hypothesis import strategies as st

from brook_broker.coordinator.group.consumer.assignors import (
    ASSIGNORS,
    GroupAssignment,
    GroupSpec,
    MemberSpec,
    assignor_name,
    range_,
    uniform,
)

TOPICS = [uuid.UUID(int=i + 1) for i in range(4)]


@st.composite
def groups(draw: st.DrawFn, *, homogeneous: bool | None = None) -> GroupSpec:
    counts = draw(st.lists(st.integers(1, 12), min_size=1, max_size=len(TOPICS)))
    partitions = dict(zip(TOPICS, counts, strict=False))
    member_ids = draw(
        st.lists(st.text("abcdefgh", min_size=1, max_size=3), min_size=1, max_size=8, unique=True)
    )
    same = draw(st.booleans()) if homogeneous is None else homogeneous
    topic_sets = st.frozensets(st.sampled_from(list(partitions)), min_size=1)
    shared = draw(topic_sets)
    members = {}
    for member_id in member_ids:
        topics = shared if same else draw(topic_sets)
        members[member_id] = MemberSpec(draw(st.none() | st.just(f"i-{member_id}")), topics, {})
    return GroupSpec(members, partitions)


def with_current(spec: GroupSpec, assignment: GroupAssignment) -> GroupSpec:
    return GroupSpec(
        {
            m: MemberSpec(s.instance_id, s.subscribed_topic_ids, assignment.get(m, {}))
            for m, s in spec.members.items()
        },
        spec.partitions,
    )


def owners(assignment: GroupAssignment) -> dict[tuple[uuid.UUID, int], list[str]]:
    found: dict[tuple[uuid.UUID, int], list[str]] = {}
    for member_id, topics in assignment.items():
        for topic_id, partitions in topics.items():
            for partition in partitions:
                found.setdefault((topic_id, partition), []).append(member_id)
    return found


def sizes(assignment: GroupAssignment, spec: GroupSpec) -> dict[str, int]:
    return {m: sum(len(p) for p in assignment.get(m, {}).values()) for m in spec.members}


def assert_complete(spec: GroupSpec, assignment: GroupAssignment) -> None:
    subscribed = {t for s in spec.members.values() for t in s.subscribed_topic_ids}
    expected = {(t, p) for t in subscribed for p in range(spec.partitions[t])}
    found = owners(assignment)
    assert set(found) == expected, "every subscribed partition is assigned"
    for tp, members in found.items():
        assert len(members) == 1, f"{tp} assigned to {members}"
        assert tp[0] in spec.members[members[0]].subscribed_topic_ids, "only to a subscribed member"


@settings(max_examples=300, deadline=None)
@given(groups())
def test_every_partition_is_assigned_exactly_once(spec: GroupSpec) -> None:
    assert_complete(spec, uniform(spec))
    assert_complete(spec, range_(spec))


@settings(max_examples=200, deadline=None)
@given(groups(homogeneous=True))
def test_uniform_balances_a_homogeneous_group_within_one(spec: GroupSpec) -> None:
    counts = sizes(uniform(spec), spec).values()
    assert max(counts) - min(counts) <= 1


@settings(max_examples=200, deadline=None)
@given(groups(homogeneous=False))
def test_uniform_leaves_no_move_that_improves_a_heterogeneous_group(spec: GroupSpec) -> None:
    assignment = uniform(spec)
    count = sizes(assignment, spec)
    for (topic_id, _), (owner,) in owners(assignment).items():
        for other, member in spec.members.items():
            if topic_id in member.subscribed_topic_ids:
                assert count[owner] - count[other] <= 1, f"{owner} could give a partition to {other}"


@settings(max_examples=200, deadline=None)
@given(groups())
def test_uniform_keeps_the_assignment_of_an_unchanged_group(spec: GroupSpec) -> None:
    first = uniform(spec)
    assert uniform(with_current(spec, first)) == first


@settings(max_examples=200, deadline=None)
@given(groups(homogeneous=True), st.data())
def test_uniform_moves_only_what_membership_changes_require(spec: GroupSpec, data: st.DataObject) -> None:
    before = uniform(spec)
    leaving = data.draw(st.sets(st.sampled_from(sorted(spec.members)), max_size=len(spec.members) - 1))
    joining = data.draw(st.sets(st.text("xyz", min_size=1, max_size=2), max_size=3))
    topics = next(iter(spec.members.values())).subscribed_topic_ids
    members = {m: MemberSpec(None, topics, before[m]) for m in spec.members if m not in leaving}
    members.update({m: MemberSpec(None, topics, {}) for m in joining})
    after_spec = GroupSpec(members, spec.partitions)
    after = uniform(after_spec)
    assert_complete(after_spec, after)
    for member_id in members:
        old = {(t, p) for t, ps in before.get(member_id, {}).items() for p in ps}
        new = {(t, p) for t, ps in after.get(member_id, {}).items() for p in ps}
        assert old <= new or new <= old, f"{member_id} both gained and lost partitions"


@settings(max_examples=200, deadline=None)
@given(groups(homogeneous=True))
def test_range_gives_contiguous_ranges_and_co_partitions(spec: GroupSpec) -> None:
    assignment = range_(spec)
    for topics in assignment.values():
        for partitions in topics.values():
            assert sorted(partitions) == list(range(min(partitions), max(partitions) + 1))
    topics = sorted(next(iter(spec.members.values())).subscribed_topic_ids, key=str)
    if len({spec.partitions[t] for t in topics}) == 1:
        for member_topics in assignment.values():
            assert len({member_topics.get(t, frozenset()) for t in topics}) == 1, (
                "same partitions of each topic"
            )


def test_range_puts_static_members_first_by_instance_id() -> None:
    topic = TOPICS[0]
    spec = GroupSpec(
        {
            "a": MemberSpec(None, frozenset({topic}), {}),
            "z": MemberSpec("i-1", frozenset({topic}), {}),
            "b": MemberSpec("i-0", frozenset({topic}), {}),
        },
        {topic: 6},
    )
    assert range_(spec) == {
        "b": {topic: frozenset({0, 1})},
        "z": {topic: frozenset({2, 3})},
        "a": {topic: frozenset({4, 5})},
    }


def test_uniform_gives_the_extra_partitions_to_the_members_that_hold_them() -> None:
    topic = TOPICS[0]
    spec = GroupSpec(
        {
            "a": MemberSpec(None, frozenset({topic}), {topic: frozenset({0, 1})}),
            "b": MemberSpec(None, frozenset({topic}), {topic: frozenset({2, 3, 4, 5, 6})}),
        },
        {topic: 7},
    )
    assert uniform(spec) == {"a": {topic: frozenset({0, 1, 6})}, "b": {topic: frozenset({2, 3, 4, 5})}}


def test_assignor_names_accept_kafkas_class_names() -> None:
    assert assignor_name("org.apache.kafka.coordinator.group.assignor.RangeAssignor") == "range"
    assert set(ASSIGNORS) == {"uniform", "range"}
