"""What the Topic and ConsumerGroup reconcilers share: events, the cluster lookup, the bootstrap address.

A Topic or ConsumerGroup names its KafkaCluster by `clusterRef`; the brokers are reached through the
cluster's bootstrap Service, or through the operator's bootstrap override (settings) when one is set.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable
from typing import Any, Protocol, TypeVar

from pydantic import BaseModel

from brook_operator import settings as settings_module
from brook_operator.api.common import API_VERSION, utcnow
from brook_operator.model import naming
from brook_operator.reconcilers import conditions
from brook_operator.reconcilers.conditions import Reason
from brook_operator.resources import applier

StatusT = TypeVar("StatusT", bound=BaseModel)


class EventSink(Protocol):
    """Posts a Kubernetes Event on the resource being reconciled (kopf's `kopf.event` in production)."""

    def __call__(self, *, type_: str, reason: str, message: str) -> None: ...


@dataclasses.dataclass(frozen=True)
class ClusterLookup:
    """The referenced KafkaCluster: whether it exists (and is not being deleted) and its bootstrap servers."""

    exists: bool
    deleting: bool
    bootstrap_servers: str | None


async def lookup_cluster(
    *, kube: applier.Applier, settings: settings_module.Settings, namespace: str, name: str
) -> ClusterLookup:
    """Find the KafkaCluster a Topic or ConsumerGroup refers to."""
    body = await kube.get(api_version=API_VERSION, kind="KafkaCluster", namespace=namespace, name=name)
    if body is None:
        return ClusterLookup(exists=False, deleting=False, bootstrap_servers=None)
    return ClusterLookup(
        exists=True,
        deleting=bool(body["metadata"].get("deletionTimestamp")),
        bootstrap_servers=bootstrap_servers(body, settings=settings),
    )


def bootstrap_servers(cluster: dict[str, Any], *, settings: settings_module.Settings) -> str:
    """The override for this cluster if one is set, else its internal bootstrap Service."""
    meta = cluster["metadata"]
    override = settings.bootstrap_for(namespace=meta["namespace"], name=meta["name"])
    if override:
        return override
    identity = naming.ClusterIdentity(
        name=meta["name"],
        namespace=meta["namespace"],
        uid=meta.get("uid", ""),
        cluster_domain=settings.cluster_domain,
    )
    port = (cluster.get("spec", {}).get("listeners", {}).get("internal", {}) or {}).get("port", 9092)
    return f"{identity.bootstrap_host}:{port}"


async def namespace_terminating(*, kube: applier.Applier, namespace: str) -> bool:
    """Whether the namespace is being deleted (finalizers must then not hold it up)."""
    body = await kube.get(api_version="v1", kind="Namespace", namespace=None, name=namespace)
    return body is None or bool(body["metadata"].get("deletionTimestamp"))


def with_conditions(
    previous: StatusT,
    *,
    generation: int,
    ready: bool,
    reason: Reason,
    message: str,
    now: Callable[[], dt.datetime] = utcnow,
) -> StatusT:
    """A status with Ready/Reconciling/Stalled set and nothing else changed (cluster missing, ...)."""
    new_conditions = conditions.summary(
        previous.conditions,  # type: ignore[attr-defined]
        ready=ready,
        reason=reason,
        message=message,
        generation=generation,
        now=now,
    )
    return previous.model_copy(update={"observed_generation": generation, "conditions": new_conditions})
