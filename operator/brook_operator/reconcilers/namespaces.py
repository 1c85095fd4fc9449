"""A namespace being deleted is never held up by a Brook finalizer, whatever kopf watches.

kopf stops watching a watched namespace as soon as its deletion starts, so in namespaced mode no
deletion handler would ever run for the Topics (and timer-bearing KafkaClusters and ConsumerGroups) in
it, and their finalizers would keep the namespace Terminating forever. `handlers` therefore watches
Namespace objects and calls `release()` for a terminating one: each Brook object being deleted there
loses the operator's finalizer; a Topic's Kafka topic is deleted first when its KafkaCluster still runs
and answers within a few seconds (best effort: the namespace going away wins over the topic).
"""

from __future__ import annotations

import asyncio
import logging

from brook_operator import admin
from brook_operator import settings as settings_module
from brook_operator.api.common import API_VERSION
from brook_operator.api.topic import TopicSpec
from brook_operator.reconcilers import common, topics
from brook_operator.resources import applier

KINDS = ("Topic", "KafkaCluster", "ConsumerGroup")
#: How long a Topic's Kafka deletion may take before the finalizer is released anyway.
TOPIC_DELETE_TIMEOUT = 10.0

logger = logging.getLogger(__name__)


def _ignore_event(*, type_: str, reason: str, message: str) -> None:
    # A terminating namespace accepts no new Events; the operator's log says what happened instead.
    logger.info("%s %s: %s", type_, reason, message)


async def _delete_topic(
    *, kube: applier.Applier, settings: settings_module.Settings, namespace: str, body: dict[str, object]
) -> None:
    spec = TopicSpec.model_validate(body.get("spec") or {})
    meta = body["metadata"]
    assert isinstance(meta, dict)
    status = body.get("status") or {}
    assert isinstance(status, dict)
    name = str(status.get("topicName") or spec.name_in_kafka(meta["name"]))
    found = await common.lookup_cluster(
        kube=kube, settings=settings, namespace=namespace, name=spec.cluster_ref.name
    )
    if not found.exists or found.deleting or found.bootstrap_servers is None:
        return
    try:
        await asyncio.wait_for(
            topics.delete(topic=name, bootstrap_servers=found.bootstrap_servers, events=_ignore_event),
            timeout=TOPIC_DELETE_TIMEOUT,
        )
    except (admin.KafkaAdminError, TimeoutError) as error:
        logger.warning("namespace %s is being deleted; topic %s left in Kafka: %s", namespace, name, error)


async def release(
    *, kube: applier.Applier, settings: settings_module.Settings, namespace: str, finalizer: str
) -> list[str]:
    """Drop `finalizer` from every Brook object being deleted in `namespace`; returns the released ones."""
    released: list[str] = []
    for kind in KINDS:
        for body in await kube.list_objects(
            api_version=API_VERSION, kind=kind, namespace=namespace, label_selector=""
        ):
            meta = body["metadata"]
            if finalizer not in (meta.get("finalizers") or []) or not meta.get("deletionTimestamp"):
                continue
            if kind == "Topic":
                await _delete_topic(kube=kube, settings=settings, namespace=namespace, body=body)
            removed = await kube.remove_finalizer(
                api_version=API_VERSION,
                kind=kind,
                namespace=namespace,
                name=meta["name"],
                finalizer=finalizer,
            )
            if removed:
                released.append(f"{kind}/{meta['name']}")
    return released
