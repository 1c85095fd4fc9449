"""Apply desired objects to the Kubernetes API with server-side apply; report what changed.

The reconcilers hand over complete desired objects from `model/`; this module owns no opinion on what
they contain. It uses the official client's DynamicClient (synchronous, so each call runs in a worker
thread) with field manager `brook-operator` and `force=true`: the operator is the controller of these
fields, and a conflicting manager (someone's `kubectl edit`) is overridden, which is how drift is reverted.
"""

from __future__ import annotations

import asyncio
import dataclasses
import enum
from typing import Any

from kubernetes import client as k8s_client
from kubernetes import config as k8s_config
from kubernetes import dynamic
from kubernetes.dynamic import exceptions as dynamic_errors

from brook_operator.model import naming


class Outcome(enum.StrEnum):
    CREATED = "Created"
    PATCHED = "Patched"
    DELETED = "Deleted"
    NOOP = "Noop"


@dataclasses.dataclass(frozen=True)
class ApplyResult:
    """What one apply or delete did, and the object as the API server now has it (None after a delete)."""

    outcome: Outcome
    kind: str
    name: str
    object: dict[str, Any] | None

    @property
    def changed(self) -> bool:
        return self.outcome != Outcome.NOOP


class ApiError(Exception):
    """A Kubernetes API call failed; the message is the API server's."""


def _message(error: dynamic_errors.DynamicApiError) -> str:
    return f"{error.status} {error.reason}: {getattr(error, 'summary', lambda: '')() or error.body}"


def connect() -> dynamic.DynamicClient:
    """A client for the cluster the operator runs in, or the current kubeconfig context outside one."""
    try:
        k8s_config.load_incluster_config()  # type: ignore[no-untyped-call]
    except k8s_config.ConfigException:
        k8s_config.load_kube_config()  # type: ignore[no-untyped-call]
    return dynamic.DynamicClient(k8s_client.ApiClient())  # type: ignore[no-untyped-call]


class Applier:
    """Server-side apply, get, list and delete for namespaced objects of any kind."""

    def __init__(self, client: dynamic.DynamicClient) -> None:
        self._client = client

    def _resource(self, api_version: str, kind: str) -> Any:
        return self._client.resources.get(api_version=api_version, kind=kind)

    def _get(self, *, api_version: str, kind: str, namespace: str | None, name: str) -> dict[str, Any] | None:
        try:
            found = self._resource(api_version, kind).get(name=name, namespace=namespace)
        except dynamic_errors.NotFoundError:
            return None
        body: dict[str, Any] = found.to_dict()
        return body

    def _apply(self, desired: dict[str, Any]) -> ApplyResult:
        meta = desired["metadata"]
        kind, name, namespace = desired["kind"], meta["name"], meta["namespace"]
        resource = self._resource(desired["apiVersion"], kind)
        before = self._get(api_version=desired["apiVersion"], kind=kind, namespace=namespace, name=name)
        try:
            after = resource.server_side_apply(
                body=desired,
                name=name,
                namespace=namespace,
                field_manager=naming.FIELD_MANAGER,
                force_conflicts=True,
            ).to_dict()
        except dynamic_errors.DynamicApiError as error:
            raise ApiError(f"applying {kind} {namespace}/{name}: {_message(error)}") from error
        if before is None:
            outcome = Outcome.CREATED
        elif before["metadata"]["resourceVersion"] == after["metadata"]["resourceVersion"]:
            outcome = Outcome.NOOP
        else:
            outcome = Outcome.PATCHED
        return ApplyResult(outcome=outcome, kind=kind, name=name, object=after)

    def _delete(self, *, api_version: str, kind: str, namespace: str, name: str) -> ApplyResult:
        try:
            self._resource(api_version, kind).delete(name=name, namespace=namespace)
        except dynamic_errors.NotFoundError:
            return ApplyResult(outcome=Outcome.NOOP, kind=kind, name=name, object=None)
        except dynamic_errors.DynamicApiError as error:
            raise ApiError(f"deleting {kind} {namespace}/{name}: {_message(error)}") from error
        return ApplyResult(outcome=Outcome.DELETED, kind=kind, name=name, object=None)

    def _list(
        self, *, api_version: str, kind: str, namespace: str, label_selector: str
    ) -> list[dict[str, Any]]:
        found = self._resource(api_version, kind).get(namespace=namespace, label_selector=label_selector)
        return [item.to_dict() for item in found.items]

    def _remove_finalizer(
        self, *, api_version: str, kind: str, namespace: str, name: str, finalizer: str
    ) -> bool:
        resource = self._resource(api_version, kind)
        try:
            current = resource.get(name=name, namespace=namespace).to_dict()
        except dynamic_errors.NotFoundError:
            return False
        finalizers = current["metadata"].get("finalizers") or []
        if finalizer not in finalizers:
            return False
        # resourceVersion makes the merge patch conditional: another writer's finalizers are never lost.
        patch = {
            "metadata": {
                "finalizers": [f for f in finalizers if f != finalizer],
                "resourceVersion": current["metadata"]["resourceVersion"],
            }
        }
        try:
            resource.patch(
                body=patch, name=name, namespace=namespace, content_type="application/merge-patch+json"
            )
        except dynamic_errors.NotFoundError:
            return False
        except dynamic_errors.ConflictError:
            return self._remove_finalizer(
                api_version=api_version, kind=kind, namespace=namespace, name=name, finalizer=finalizer
            )
        return True

    async def remove_finalizer(
        self, *, api_version: str, kind: str, namespace: str, name: str, finalizer: str
    ) -> bool:
        """Remove one finalizer from an object; False if it was not there (or the object is gone)."""
        try:
            return await asyncio.to_thread(
                self._remove_finalizer,
                api_version=api_version,
                kind=kind,
                namespace=namespace,
                name=name,
                finalizer=finalizer,
            )
        except dynamic_errors.DynamicApiError as error:
            raise ApiError(f"removing finalizer from {kind} {namespace}/{name}: {_message(error)}") from error

    async def apply(self, desired: dict[str, Any]) -> ApplyResult:
        """Server-side apply one object: Created, Patched or Noop."""
        return await asyncio.to_thread(self._apply, desired)

    async def delete(self, *, api_version: str, kind: str, namespace: str, name: str) -> ApplyResult:
        """Delete one object: Deleted, or Noop if it is already gone."""
        return await asyncio.to_thread(
            self._delete, api_version=api_version, kind=kind, namespace=namespace, name=name
        )

    async def get(
        self, *, api_version: str, kind: str, namespace: str | None, name: str
    ) -> dict[str, Any] | None:
        """One object, or None if it does not exist."""
        try:
            return await asyncio.to_thread(
                self._get, api_version=api_version, kind=kind, namespace=namespace, name=name
            )
        except dynamic_errors.DynamicApiError as error:
            raise ApiError(f"reading {kind} {namespace}/{name}: {_message(error)}") from error

    async def list_objects(
        self, *, api_version: str, kind: str, namespace: str, label_selector: str
    ) -> list[dict[str, Any]]:
        """Objects of one kind in a namespace matching a label selector."""
        try:
            return await asyncio.to_thread(
                self._list,
                api_version=api_version,
                kind=kind,
                namespace=namespace,
                label_selector=label_selector,
            )
        except dynamic_errors.DynamicApiError as error:
            raise ApiError(f"listing {kind} in {namespace}: {_message(error)}") from error
