"""Status conditions (metav1.Condition shape) and the documented reasons, shared by all reconcilers.

Conventions (docs/operator.md lists every reason):
- `Ready` is always published, True or False (never a `NotReady=True`).
- `Reconciling` and `Stalled` follow kstatus, so Argo CD, Flux and `kubectl wait` understand progress
  and terminal errors without Brook-specific health checks.
- `lastTransitionTime` changes only when a condition's status changes; `observedGeneration` is the
  generation the condition was computed from. `Reconciling` also restarts its clock when the generation
  changes, so "Reconciling for longer than the deadline" (-> Stalled) measures the current generation.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Callable, Iterable

from brook_operator.api.common import Condition, ConditionStatus

READY = "Ready"
RECONCILING = "Reconciling"
STALLED = "Stalled"
OFFSET_RESET = "OffsetReset"


class Reason(enum.StrEnum):
    """Every reason a Brook condition can carry (one enum, so docs and tests can list them)."""

    # Ready=True
    READY = "Ready"  # KafkaCluster: every broker Ready; Topic: in sync; ConsumerGroup: observed
    # Ready=False / Stalled=True: the spec cannot be carried out as written
    INVALID_SPEC = "InvalidSpec"
    REPLICAS_NOT_SUPPORTED = "ReplicasNotSupported"
    NOT_SUPPORTED = "NotSupported"
    # Ready=False, Reconciling=True: on the way
    BROKERS_NOT_READY = "BrokersNotReady"
    ROLLING_UPDATE = "RollingUpdate"
    EXTERNAL_ADDRESS_PENDING = "ExternalAddressPending"
    # Ready=False: something outside the spec is wrong (retried)
    CLUSTER_NOT_FOUND = "ClusterNotFound"
    KAFKA_UNREACHABLE = "KafkaUnreachable"
    KAFKA_ERROR = "KafkaError"
    KUBERNETES_ERROR = "KubernetesError"
    PROGRESS_DEADLINE_EXCEEDED = "ProgressDeadlineExceeded"
    # Topic/ConsumerGroup left alone (annotation brook.dev/managed: "false")
    UNMANAGED = "Unmanaged"
    # Reconciling=False / Stalled=False
    RECONCILED = "Reconciled"
    # OffsetReset
    COMPLETED = "Completed"
    DRY_RUN = "DryRun"
    GROUP_NOT_EMPTY = "GroupNotEmpty"
    FAILED = "Failed"


def set_condition(
    conditions: Iterable[Condition],
    *,
    type_: str,
    status: ConditionStatus | bool,
    reason: Reason,
    message: str,
    generation: int | None,
    now: Callable[[], dt.datetime],
) -> list[Condition]:
    """The conditions with `type_` set; lastTransitionTime kept unless the status changed."""
    if isinstance(status, bool):
        status = ConditionStatus.TRUE if status else ConditionStatus.FALSE
    existing = {c.type: c for c in conditions}
    old = existing.get(type_)
    keep_time = old is not None and old.status == status
    if type_ == RECONCILING and old is not None and old.observed_generation != generation:
        keep_time = False
    existing[type_] = Condition(
        type=type_,
        status=status,
        reason=str(reason),
        message=message,
        last_transition_time=old.last_transition_time if keep_time and old is not None else now(),
        observed_generation=generation,
    )
    return list(existing.values())


def find(conditions: Iterable[Condition], type_: str) -> Condition | None:
    """The condition of a type, if present."""
    return next((c for c in conditions if c.type == type_), None)


def summary(
    conditions: Iterable[Condition],
    *,
    ready: bool | ConditionStatus,
    reason: Reason,
    message: str,
    stalled: bool = False,
    reconciling: bool = False,
    generation: int | None,
    now: Callable[[], dt.datetime],
) -> list[Condition]:
    """Ready, Reconciling and Stalled at once, consistent with each other.

    Ready=True clears both. Otherwise `stalled` (a terminal problem: change the spec) or `reconciling`
    (progress is being made) carries the same reason and message; a transient failure that is retried
    sets neither.
    """
    result = set_condition(
        conditions, type_=READY, status=ready, reason=reason, message=message, generation=generation, now=now
    )
    for type_, active in ((RECONCILING, reconciling), (STALLED, stalled)):
        result = set_condition(
            result,
            type_=type_,
            status=active,
            reason=reason if active else Reason.RECONCILED,
            message=message if active else "",
            generation=generation,
            now=now,
        )
    return result
