"""The kopf handlers, the only module with `@kopf.on.*` decorators: parse, reconcile, write status.

Wiring (why each decorator exists):
- create/update/resume run a reconcile when a spec changes and when the operator (re)starts, so an
  operator restarted mid-reconcile picks up where the objects are, not where it was.
- timers resync periodically: drift made outside the operator (a deleted Service, a topic config changed
  with kafka-configs) is reverted, and ConsumerGroup lag is refreshed.
- a fast retry timer runs only while a resource is on its way (Reconciling, or not Ready and not
  Stalled: brokers starting, Kafka unreachable, cluster missing), so progress shows within seconds
  without kopf's "failed temporarily" errors (and Error Events) for normal waiting.
- Topic deletion goes through a finalizer, only on managed Topics: annotating a Topic
  `brook.dev/managed: "false"` makes kopf drop the finalizer, and the Topic can go without touching Kafka.

kopf's own state (handler progress, last-handled spec) lives in `kopf.brook.dev/*` annotations, never in
status (the CRD schemas prune unknown status fields), and its finalizer is `brook.dev/finalizer`.

Managed Topics carry that finalizer (to delete the Kafka topic), and kopf puts it on KafkaClusters and
ConsumerGroups too (to stop their timers before they go). A namespace being deleted never waits for
it: `namespace_terminating` releases the finalizers there (see `reconcilers.namespaces` for why kopf
alone would not).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from typing import Any, TypeVar

import kopf
import pydantic

from brook_operator import admin, settings
from brook_operator.api.common import GROUP, MANAGED_ANNOTATION, VERSION
from brook_operator.api.consumergroup import ConsumerGroupStatus
from brook_operator.api.kafkacluster import KafkaClusterStatus
from brook_operator.api.topic import TopicSpec, TopicStatus
from brook_operator.model import naming
from brook_operator.reconcilers import cluster, common, groups, namespaces, topics
from brook_operator.reconcilers.conditions import Reason
from brook_operator.resources import applier

SETTINGS = settings.from_env()
FINALIZER = f"{GROUP}/finalizer"
#: kopf's own annotations. Not `brook.dev/`: kopf leaves annotations with its prefix out of the spec diff,
#: and a change of `brook.dev/managed` must count as a change.
KOPF_PREFIX = f"kopf.{GROUP}"
#: Seconds between retries of a resource that is on its way (see `_in_progress`).
RETRY_SECONDS = 5.0

_kube: applier.Applier | None = None
StatusT = TypeVar("StatusT", bound=pydantic.BaseModel)


def _applier() -> applier.Applier:
    global _kube  # noqa: PLW0603 - one client per process, made lazily on first use
    if _kube is None:
        _kube = applier.Applier(applier.connect())
    return _kube


@kopf.on.startup()
def configure(settings: kopf.OperatorSettings, **_: Any) -> None:
    """Where kopf keeps its state, and which of its messages become Kubernetes Events."""
    settings.persistence.finalizer = FINALIZER
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=KOPF_PREFIX)
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(prefix=KOPF_PREFIX)
    # Reconcilers post their own Events; kopf's are limited to handler failures.
    settings.posting.level = logging.WARNING
    settings.posting.reporting_component = "brook-operator"
    settings.posting.reporting_instance = os.environ.get("HOSTNAME", "brook-operator")
    settings.posting.event_name_prefix = "brook-"
    settings.watching.server_timeout = 300
    settings.networking.request_timeout = 60


def _events(body: kopf.Body) -> common.EventSink:
    def post(*, type_: str, reason: str, message: str) -> None:
        kopf.event(body, type=type_, reason=reason, message=message[:1024])

    return post


def _previous(model: type[StatusT], status: Mapping[str, Any]) -> StatusT:
    # A status written by an older operator (or by hand) must not block reconciling: start afresh.
    try:
        return model.model_validate(dict(status))
    except pydantic.ValidationError:
        return model()


def _managed(annotations: kopf.Annotations, **_: Any) -> bool:
    return annotations.get(MANAGED_ANNOTATION, "true") != "false"


def _unmanaged(annotations: kopf.Annotations, **_: Any) -> bool:
    return not _managed(annotations)


def _in_progress(status: kopf.Status, meta: kopf.Meta, **_: Any) -> bool:
    """Whether a resource should be looked at again soon: Reconciling, or neither Ready nor Stalled."""
    found = {c.get("type"): c for c in status.get("conditions") or []}
    ready, stalled, reconciling = (found.get(t, {}) for t in ("Ready", "Stalled", "Reconciling"))
    if status.get("observedGeneration") != meta.get("generation"):
        return True
    if reconciling.get("status") == "True":
        return True
    return bool(ready.get("status") == "False" and stalled.get("status") != "True")


def _managed_in_progress(
    annotations: kopf.Annotations, status: kopf.Status, meta: kopf.Meta, **_: Any
) -> bool:
    return _managed(annotations) and _in_progress(status, meta)


def _write(patch: kopf.Patch, status: pydantic.BaseModel) -> None:
    patch.status.update(status.model_dump(mode="json", by_alias=True, exclude_none=True))


# --- KafkaCluster ---------------------------------------------------------------------------------


async def _reconcile_cluster(body: kopf.Body, patch: kopf.Patch) -> None:
    meta = body.metadata
    identity = naming.ClusterIdentity(
        name=meta["name"],
        namespace=meta["namespace"],
        uid=meta["uid"],
        cluster_domain=SETTINGS.cluster_domain,
    )
    result = await cluster.reconcile(
        identity=identity,
        generation=meta["generation"],
        spec=dict(body.spec),
        previous=_previous(KafkaClusterStatus, body.status),
        kube=_applier(),
        settings=SETTINGS,
        events=_events(body),
    )
    _write(patch, result.status)


@kopf.on.create(GROUP, VERSION, "kafkaclusters")
@kopf.on.update(GROUP, VERSION, "kafkaclusters")
@kopf.on.resume(GROUP, VERSION, "kafkaclusters")
async def kafkacluster_changed(body: kopf.Body, patch: kopf.Patch, **_: Any) -> None:
    """Apply the cluster's objects and report how far the rollout got."""
    await _reconcile_cluster(body, patch)


@kopf.timer(
    GROUP, VERSION, "kafkaclusters", interval=RETRY_SECONDS, initial_delay=RETRY_SECONDS, when=_in_progress
)
async def kafkacluster_progress(body: kopf.Body, patch: kopf.Patch, **_: Any) -> None:
    """Follow brokers starting or rolling (runs only while the cluster is on its way)."""
    await _reconcile_cluster(body, patch)


@kopf.timer(
    GROUP, VERSION, "kafkaclusters", interval=SETTINGS.resync_seconds, initial_delay=SETTINGS.resync_seconds
)
async def kafkacluster_resync(body: kopf.Body, patch: kopf.Patch, **_: Any) -> None:
    """Re-apply (reverting drift) and refresh status."""
    await _reconcile_cluster(body, patch)


# --- Topic ----------------------------------------------------------------------------------------


async def _cluster_of(body: kopf.Body) -> common.ClusterLookup:
    name = body.spec.get("clusterRef", {}).get("name", "")
    return await common.lookup_cluster(
        kube=_applier(), settings=SETTINGS, namespace=body.metadata["namespace"], name=name
    )


async def _bootstrap_or_not_found(
    body: kopf.Body, patch: kopf.Patch, previous: pydantic.BaseModel
) -> str | None:
    """The referenced KafkaCluster's bootstrap servers; if there is none, a ClusterNotFound status."""
    found = await _cluster_of(body)
    if found.exists and found.bootstrap_servers is not None:
        return found.bootstrap_servers
    meta = body.metadata
    message = f"KafkaCluster {body.spec.get('clusterRef', {}).get('name')} not found in {meta['namespace']}"
    _write(
        patch,
        common.with_conditions(
            previous,
            generation=meta["generation"],
            ready=False,
            reason=Reason.CLUSTER_NOT_FOUND,
            message=message,
        ),
    )
    return None


async def _reconcile_topic(body: kopf.Body, patch: kopf.Patch, *, resync: bool) -> None:
    meta = body.metadata
    previous = _previous(TopicStatus, body.status)
    bootstrap_servers = await _bootstrap_or_not_found(body, patch, previous)
    if bootstrap_servers is None:
        return
    result = await topics.reconcile(
        name=meta["name"],
        generation=meta["generation"],
        spec=dict(body.spec),
        previous=previous,
        bootstrap_servers=bootstrap_servers,
        events=_events(body),
        resync=resync,
    )
    _write(patch, result.status)


@kopf.on.create(GROUP, VERSION, "topics", when=_managed)
@kopf.on.update(GROUP, VERSION, "topics", when=_managed)
@kopf.on.resume(GROUP, VERSION, "topics", when=_managed)
async def topic_changed(body: kopf.Body, patch: kopf.Patch, **_: Any) -> None:
    """Create, adopt or update the topic in Kafka."""
    await _reconcile_topic(body, patch, resync=False)


@kopf.timer(
    GROUP,
    VERSION,
    "topics",
    interval=RETRY_SECONDS,
    initial_delay=RETRY_SECONDS,
    when=_managed_in_progress,
)
async def topic_retry(body: kopf.Body, patch: kopf.Patch, **_: Any) -> None:
    """Retry a topic that is not Ready yet (Kafka unreachable, cluster missing)."""
    await _reconcile_topic(body, patch, resync=False)


@kopf.timer(
    GROUP,
    VERSION,
    "topics",
    interval=SETTINGS.resync_seconds,
    initial_delay=SETTINGS.resync_seconds,
    when=_managed,
)
async def topic_resync(body: kopf.Body, patch: kopf.Patch, **_: Any) -> None:
    """Detect and revert out-of-band changes to the topic."""
    await _reconcile_topic(body, patch, resync=True)


@kopf.on.create(GROUP, VERSION, "topics", when=_unmanaged)
@kopf.on.update(GROUP, VERSION, "topics", when=_unmanaged)
@kopf.on.resume(GROUP, VERSION, "topics", when=_unmanaged)
async def topic_unmanaged(body: kopf.Body, patch: kopf.Patch, **_: Any) -> None:
    """Say in status that the operator leaves this topic alone (kopf drops the finalizer by itself)."""
    _write(
        patch, topics.unmanaged(_previous(TopicStatus, body.status), generation=body.metadata["generation"])
    )


@kopf.on.delete(GROUP, VERSION, "topics", when=_managed)
async def topic_deleted(body: kopf.Body, **_: Any) -> None:
    """Delete the topic from Kafka, unless that would hold the Topic (or its namespace) forever.

    The finalizer is released without deleting when the KafkaCluster is gone or going (its brokers go
    with it), and when the namespace is being deleted and Kafka does not answer at once.
    """
    meta, events = body.metadata, _events(body)
    try:
        spec = TopicSpec.model_validate(dict(body.spec))
    except pydantic.ValidationError:
        return  # never reconciled: nothing in Kafka is ours
    topic = body.status.get("topicName") or spec.name_in_kafka(meta["name"])
    found = await _cluster_of(body)
    if not found.exists or found.deleting or found.bootstrap_servers is None:
        events(
            type_="Warning",
            reason="ClusterGone",
            message=f"KafkaCluster gone: topic {topic} not deleted from Kafka",
        )
        return
    try:
        await topics.delete(topic=topic, bootstrap_servers=found.bootstrap_servers, events=events)
    except admin.KafkaAdminError as error:
        if await common.namespace_terminating(kube=_applier(), namespace=meta["namespace"]):
            events(
                type_="Warning",
                reason="Orphaned",
                message=f"namespace is being deleted; topic {topic} left: {error}",
            )
            return
        raise kopf.TemporaryError(f"deleting topic {topic}: {error}", delay=topics.RETRY_KAFKA) from error


# --- ConsumerGroup --------------------------------------------------------------------------------


async def _reconcile_group(body: kopf.Body, patch: kopf.Patch) -> None:
    meta = body.metadata
    previous = _previous(ConsumerGroupStatus, body.status)
    bootstrap_servers = await _bootstrap_or_not_found(body, patch, previous)
    if bootstrap_servers is None:
        return
    result = await groups.reconcile(
        name=meta["name"],
        generation=meta["generation"],
        spec=dict(body.spec),
        previous=previous,
        bootstrap_servers=bootstrap_servers,
        events=_events(body),
    )
    _write(patch, result.status)


@kopf.on.create(GROUP, VERSION, "consumergroups", when=_managed)
@kopf.on.update(GROUP, VERSION, "consumergroups", when=_managed)
@kopf.on.resume(GROUP, VERSION, "consumergroups", when=_managed)
async def consumergroup_changed(body: kopf.Body, patch: kopf.Patch, **_: Any) -> None:
    """Observe the group and run a new offset-reset request."""
    await _reconcile_group(body, patch)


@kopf.timer(GROUP, VERSION, "consumergroups", interval=SETTINGS.group_refresh_seconds, when=_managed)
async def consumergroup_refresh(body: kopf.Body, patch: kopf.Patch, **_: Any) -> None:
    """Refresh state and lag; run an offset reset that waited for the group to become Empty."""
    await _reconcile_group(body, patch)


# --- Namespaces -----------------------------------------------------------------------------------


def _terminating(body: kopf.Body, **_: Any) -> bool:
    name = body.metadata.get("name")
    watched = not SETTINGS.namespaces or name in SETTINGS.namespaces
    return watched and bool(body.metadata.get("deletionTimestamp"))


@kopf.on.event("", "v1", "namespaces", when=_terminating)
async def namespace_terminating(body: kopf.Body, logger: kopf.Logger, **_: Any) -> None:
    """Release Brook finalizers in a namespace that is being deleted."""
    released = await namespaces.release(
        kube=_applier(), settings=SETTINGS, namespace=body.metadata["name"], finalizer=FINALIZER
    )
    if released:
        logger.info(f"namespace is being deleted; finalizers released: {', '.join(released)}")
