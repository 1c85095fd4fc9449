"""Condition bookkeeping: metav1.Condition semantics and the kstatus trio."""

from __future__ import annotations

import datetime as dt

from brook_operator.api.common import ConditionStatus
from brook_operator.reconcilers import conditions
from brook_operator.reconcilers.conditions import Reason

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
T1 = T0 + dt.timedelta(minutes=5)


def test_transition_time_changes_only_with_the_status() -> None:
    first = conditions.set_condition(
        [],
        type_="Ready",
        status=False,
        reason=Reason.BROKERS_NOT_READY,
        message="0/1",
        generation=1,
        now=lambda: T0,
    )
    same = conditions.set_condition(
        first,
        type_="Ready",
        status=False,
        reason=Reason.ROLLING_UPDATE,
        message="x",
        generation=2,
        now=lambda: T1,
    )
    (ready,) = same
    assert (
        ready.last_transition_time == T0
        and ready.reason == "RollingUpdate"
        and ready.observed_generation == 2
    )
    flipped = conditions.set_condition(
        same, type_="Ready", status=True, reason=Reason.READY, message="1/1", generation=2, now=lambda: T1
    )
    assert flipped[0].last_transition_time == T1 and flipped[0].status == ConditionStatus.TRUE


def test_reconciling_clock_restarts_with_a_new_generation() -> None:
    first = conditions.summary(
        [],
        ready=False,
        reason=Reason.ROLLING_UPDATE,
        message="",
        reconciling=True,
        generation=1,
        now=lambda: T0,
    )
    later = conditions.summary(
        first,
        ready=False,
        reason=Reason.ROLLING_UPDATE,
        message="",
        reconciling=True,
        generation=2,
        now=lambda: T1,
    )
    reconciling = conditions.find(later, conditions.RECONCILING)
    assert reconciling is not None and reconciling.last_transition_time == T1


def test_summary_is_consistent() -> None:
    stalled = conditions.summary(
        [], ready=False, reason=Reason.NOT_SUPPORTED, message="no", stalled=True, generation=3, now=lambda: T0
    )
    by_type = {c.type: c for c in stalled}
    assert set(by_type) == {"Ready", "Reconciling", "Stalled"}
    assert (by_type["Ready"].status, by_type["Stalled"].status, by_type["Reconciling"].status) == (
        "False",
        "True",
        "False",
    )
    assert by_type["Stalled"].reason == "NotSupported" and by_type["Reconciling"].reason == "Reconciled"
    ready = conditions.summary(
        stalled, ready=True, reason=Reason.READY, message="ok", generation=4, now=lambda: T1
    )
    assert {c.type: c.status for c in ready} == {"Ready": "True", "Reconciling": "False", "Stalled": "False"}
    assert all(c.observed_generation == 4 for c in ready)


def test_conditions_serialize_in_metav1_shape() -> None:
    (ready,) = conditions.set_condition(
        [], type_="Ready", status=True, reason=Reason.READY, message="ok", generation=7, now=lambda: T0
    )
    assert ready.to_body() == {
        "type": "Ready",
        "status": "True",
        "reason": "Ready",
        "message": "ok",
        "lastTransitionTime": "2026-01-01T00:00:00Z",
        "observedGeneration": 7,
    }
