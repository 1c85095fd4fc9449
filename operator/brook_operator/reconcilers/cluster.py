"""KafkaCluster reconcile: from a spec to running brokers and a truthful status, in ordered steps.

`reconcile()` is the whole algorithm, one step per line:

1. Parse the spec. A spec the API server accepted but the model refuses is `InvalidSpec` (Stalled).
2. Refuse what Brook cannot run yet: more than `MAX_SUPPORTED_REPLICAS` brokers would be unconnected
   single-node brokers, so nothing is changed and the status says `ReplicasNotSupported` (Stalled).
3. Apply the Services (headless, bootstrap, external): external addresses must exist before step 5.
4. Read the external addresses Kubernetes assigned (node ports, load-balancer ingress).
5. Apply the ConfigMap, the StatefulSet and the PodDisruptionBudget.
6. Delete objects of this cluster that are no longer desired (external Services after a scale-down or
   after the external listener was removed).
7. Observe the StatefulSet rollout and publish Ready / Reconciling / Stalled, listener addresses and
   observedGeneration. Not yet Ready: the caller retries soon (`Result.retry_after`).

Every object created, patched or deleted is announced by a Kubernetes Event on the KafkaCluster.
Deleting the KafkaCluster needs no finalizer: every object carries an owner reference, and the
StatefulSet's PVC retention policy implements `storage.deleteClaim`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable
from typing import Any

import pydantic

from brook_operator import settings as settings_module
from brook_operator.api.common import utcnow
from brook_operator.api.kafkacluster import (
    MAX_SUPPORTED_REPLICAS,
    ExternalListenerType,
    KafkaClusterSpec,
    KafkaClusterStatus,
    ListenerStatus,
    parse_spec,
)
from brook_operator.model import cluster as cluster_model
from brook_operator.model import naming, services
from brook_operator.reconcilers import conditions
from brook_operator.reconcilers.common import EventSink
from brook_operator.reconcilers.conditions import Reason
from brook_operator.resources import applier

#: How soon to look again while brokers start or roll.
RETRY_NOT_READY = 5.0
#: How soon to retry after a Kubernetes API error.
RETRY_API_ERROR = 30.0


@dataclasses.dataclass(frozen=True)
class Result:
    """The status to write, and when to reconcile again (None: only on the next change or resync)."""

    status: KafkaClusterStatus
    retry_after: float | None


@dataclasses.dataclass
class _Run:
    """One reconcile's inputs, shared by the steps."""

    identity: naming.ClusterIdentity
    generation: int
    previous: KafkaClusterStatus
    kube: applier.Applier
    settings: settings_module.Settings
    events: EventSink
    now: Callable[[], dt.datetime]

    def status(self, **fields: Any) -> KafkaClusterStatus:
        return self.previous.model_copy(update={"observed_generation": self.generation, **fields})

    def conditions(self, **kwargs: Any) -> list[Any]:
        return conditions.summary(
            self.previous.conditions, generation=self.generation, now=self.now, **kwargs
        )

    def announce(self, result: applier.ApplyResult) -> None:
        if result.changed:
            self.events(
                type_="Normal",
                reason=str(result.outcome),
                message=f"{result.kind} {result.name} {result.outcome.lower()}",
            )


async def reconcile(
    *,
    identity: naming.ClusterIdentity,
    generation: int,
    spec: dict[str, Any],
    previous: KafkaClusterStatus,
    kube: applier.Applier,
    settings: settings_module.Settings,
    events: EventSink,
    now: Callable[[], dt.datetime] = utcnow,
) -> Result:
    """Bring one KafkaCluster's objects to its spec and report how far it got (steps in the module doc)."""
    run = _Run(identity, generation, previous, kube, settings, events, now)
    try:
        parsed = parse_spec(spec)  # 1
    except pydantic.ValidationError as error:
        return _stalled(run, Reason.INVALID_SPEC, _validation_message(error))
    if parsed.replicas > MAX_SUPPORTED_REPLICAS:  # 2
        return _stalled(
            run,
            Reason.REPLICAS_NOT_SUPPORTED,
            f"replicas: {parsed.replicas} is not supported yet: Brook brokers do not form a cluster, so more "
            f"than {MAX_SUPPORTED_REPLICAS} would be unconnected brokers; nothing was changed",
        )
    try:
        network = [await kube.apply(obj) for obj in cluster_model.build_network(identity, parsed)]  # 3
        for result in network:
            run.announce(result)
        external = _external_addresses(identity, parsed, network)  # 4
        image = cluster_model.image_for(parsed, repository=settings.broker_image)
        brokers = [
            await kube.apply(obj)  # 5
            for obj in cluster_model.build_brokers(identity, parsed, image=image, external_addresses=external)
        ]
        for result in brokers:
            run.announce(result)
        await _delete_unwanted(run, parsed)  # 6
        statefulset = next(r.object for r in brokers if r.kind == "StatefulSet")
        assert statefulset is not None
        return await _observe(run, parsed, image=image, statefulset=statefulset, network=network)  # 7
    except applier.ApiError as error:
        events(type_="Warning", reason=str(Reason.KUBERNETES_ERROR), message=str(error))
        return Result(
            status=run.status(
                conditions=run.conditions(ready=False, reason=Reason.KUBERNETES_ERROR, message=str(error))
            ),
            retry_after=RETRY_API_ERROR,
        )


def _validation_message(error: pydantic.ValidationError) -> str:
    return "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'spec'}: {e['msg']}" for e in error.errors())


def _stalled(run: _Run, reason: Reason, message: str) -> Result:
    old = conditions.find(run.previous.conditions, conditions.STALLED)
    if old is None or old.reason != reason or old.observed_generation != run.generation:
        run.events(type_="Warning", reason=str(reason), message=message)
    return Result(
        status=run.status(
            conditions=run.conditions(ready=False, reason=reason, message=message, stalled=True)
        ),
        retry_after=None,
    )


def _external_addresses(
    identity: naming.ClusterIdentity, spec: KafkaClusterSpec, network: list[applier.ApplyResult]
) -> dict[int, str]:
    external = spec.listeners.external
    if external is None:
        return {}
    applied = {r.name: r.object for r in network if r.object is not None}
    addresses: dict[int, str] = {}
    for ordinal in range(spec.replicas):
        service = applied.get(identity.external_service(ordinal))
        address = None if service is None else services.external_address(service, listener_type=external.type)
        if address is not None:
            addresses[ordinal] = address
    return addresses


async def _delete_unwanted(run: _Run, spec: KafkaClusterSpec) -> None:
    wanted = {obj["metadata"]["name"] for obj in cluster_model.build_network(run.identity, spec)}
    selector = f"{naming.CLUSTER_LABEL}={run.identity.name},app.kubernetes.io/managed-by={naming.MANAGED_BY}"
    for service in await run.kube.list_objects(
        api_version="v1", kind="Service", namespace=run.identity.namespace, label_selector=selector
    ):
        name = service["metadata"]["name"]
        if name not in wanted:
            run.announce(
                await run.kube.delete(
                    api_version="v1", kind="Service", namespace=run.identity.namespace, name=name
                )
            )


async def _listener_statuses(
    run: _Run, spec: KafkaClusterSpec, network: list[applier.ApplyResult]
) -> tuple[list[ListenerStatus], bool]:
    """Listener addresses, and whether every external address is known."""
    internal = ListenerStatus(
        name="internal",
        type="ClusterIP",
        bootstrap_servers=f"{run.identity.bootstrap_host}:{spec.listeners.internal.port}",
    )
    external = spec.listeners.external
    if external is None:
        return [internal], True
    bootstrap = next((r.object for r in network if r.name == run.identity.external_bootstrap_service), None)
    servers: str | None = None
    if bootstrap is not None and external.type == ExternalListenerType.LOAD_BALANCER:
        servers = services.external_address(bootstrap, listener_type=external.type)
    elif bootstrap is not None:
        # NodePort: any node works; name the nodes the brokers run on (known once they are scheduled).
        node_port = bootstrap["spec"]["ports"][0].get("nodePort")
        pods = await run.kube.list_objects(
            api_version="v1",
            kind="Pod",
            namespace=run.identity.namespace,
            label_selector=",".join(f"{k}={v}" for k, v in naming.selector_labels(run.identity).items()),
        )
        hosts = sorted({p.get("status", {}).get("hostIP") for p in pods} - {None})
        if hosts and node_port:
            servers = ",".join(f"{host}:{node_port}" for host in hosts)
    complete = servers is not None and len(_external_addresses(run.identity, spec, network)) == spec.replicas
    return [
        internal,
        ListenerStatus(name="external", type=str(external.type), bootstrap_servers=servers),
    ], complete


async def _observe(
    run: _Run,
    spec: KafkaClusterSpec,
    *,
    image: str,
    statefulset: dict[str, Any],
    network: list[applier.ApplyResult],
) -> Result:
    observed = statefulset.get("status") or {}
    ready_replicas = observed.get("readyReplicas") or 0
    updated = observed.get("updatedReplicas") or 0
    current = observed.get("observedGeneration", 0) >= statefulset["metadata"]["generation"]
    revision_done = observed.get("currentRevision") == observed.get("updateRevision")
    listeners, addresses_known = await _listener_statuses(run, spec, network)
    fields = {
        "replicas": observed.get("replicas") or 0,
        "ready_replicas": ready_replicas,
        "image": image,
        "version": spec.version,
        "listeners": listeners,
        "selector": ",".join(f"{k}={v}" for k, v in naming.selector_labels(run.identity).items()),
    }
    if observed.get("currentRevision") and not revision_done:
        # A roll of existing pods to a new template (config, image, resources).
        reason, message = (
            Reason.ROLLING_UPDATE,
            f"{updated}/{spec.replicas} brokers updated to the current spec",
        )
    elif not current or updated < spec.replicas or ready_replicas < spec.replicas:
        reason, message = Reason.BROKERS_NOT_READY, f"{ready_replicas}/{spec.replicas} brokers ready"
    elif not addresses_known:
        reason, message = (
            Reason.EXTERNAL_ADDRESS_PENDING,
            "waiting for Kubernetes to assign external addresses",
        )
    else:
        was_ready = conditions.find(run.previous.conditions, conditions.READY)
        message = f"{ready_replicas}/{spec.replicas} brokers ready"
        if was_ready is None or was_ready.status != "True":
            run.events(type_="Normal", reason=str(Reason.READY), message=message)
        return Result(
            status=run.status(
                **fields, conditions=run.conditions(ready=True, reason=Reason.READY, message=message)
            ),
            retry_after=None,
        )
    started = conditions.find(run.previous.conditions, conditions.RECONCILING)
    overdue = (
        started is not None
        and started.status == "True"
        and started.observed_generation == run.generation
        and (run.now() - started.last_transition_time).total_seconds()
        > run.settings.progress_deadline_seconds
    )
    if overdue:
        reason = Reason.PROGRESS_DEADLINE_EXCEEDED
        message = f"no progress for {run.settings.progress_deadline_seconds:.0f}s: {message}"
    status = run.status(
        **fields,
        conditions=run.conditions(
            ready=False, reason=reason, message=message, reconciling=True, stalled=overdue
        ),
    )
    return Result(status=status, retry_after=RETRY_NOT_READY)
