"""A tiny, dependency-free Kubernetes REST client for the e2e harness.

`cluster` uses it to wait for readiness and to create bootstrap objects, and the fixtures hand it to
tests as ``k8s_cluster.api``. It speaks raw REST paths (``/api/v1/namespaces/x/pods``) with bearer-token
auth over TLS verified against the control plane's own CA. It is deliberately small: for anything
richer, tests use ``kubectl`` or the ``kubernetes`` package (``KubeCluster.api_client()``).
"""

from __future__ import annotations

import json
import ssl
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

JsonObject = dict[str, Any]

T = TypeVar("T")

PATCH_TYPES: Mapping[str, str] = {
    "merge": "application/merge-patch+json",
    "strategic": "application/strategic-merge-patch+json",
    "json": "application/json-patch+json",
    "apply": "application/apply-patch+yaml",  # JSON is YAML: server-side apply accepts a JSON body
}


class ApiError(RuntimeError):
    """A non-2xx answer. ``message`` is the Status message the API server wrote for humans."""

    def __init__(self, status: int, method: str, path: str, body: JsonObject | None, raw: str) -> None:
        self.status = status
        self.body = body or {}
        self.reason = str(self.body.get("reason", ""))
        self.message = str(self.body.get("message", raw.strip()[:500]))
        super().__init__(f"{method} {path}: HTTP {status} {self.reason}: {self.message}")


class WaitTimeoutError(AssertionError):
    """A bounded wait ran out; the message says what was awaited and what was last seen."""


class KubeApi:
    """Blocking JSON-over-HTTPS calls to one API server."""

    def __init__(self, server: str, *, token: str, ca_file: Path, timeout: float = 30.0) -> None:
        self.server = server.rstrip("/")
        self._token = token
        self._timeout = timeout
        self._ssl = ssl.create_default_context(cafile=str(ca_file))

    def request(
        self,
        method: str,
        path: str,
        body: object = None,
        *,
        query: Mapping[str, str] | None = None,
        content_type: str = "application/json",
        timeout: float | None = None,
    ) -> Any:
        url = self.server + path
        if query:
            url += "?" + urllib.parse.urlencode(query)
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(url, data=data, method=method)
        request.add_header("Authorization", f"Bearer {self._token}")
        request.add_header("Accept", "application/json")
        if data is not None:
            request.add_header("Content-Type", content_type)
        try:
            with urllib.request.urlopen(
                request, context=self._ssl, timeout=timeout or self._timeout
            ) as response:
                raw = response.read().decode()
        except urllib.error.HTTPError as error:
            raw = error.read().decode(errors="replace")
            try:
                parsed = json.loads(raw)
            except ValueError:
                parsed = None
            raise ApiError(
                error.code, method, path, parsed if isinstance(parsed, dict) else None, raw
            ) from None
        if not raw:
            return None
        try:
            return json.loads(raw)
        except ValueError:
            return raw  # /readyz, /version?pretty and friends answer text

    def get(self, path: str, **query: str) -> Any:
        return self.request("GET", path, query=query or None)

    def create(self, path: str, body: Mapping[str, Any]) -> Any:
        return self.request("POST", path, dict(body))

    def replace(self, path: str, body: Mapping[str, Any]) -> Any:
        return self.request("PUT", path, dict(body))

    def patch(self, path: str, body: object, *, patch_type: str = "merge", **query: str) -> Any:
        return self.request("PATCH", path, body, query=query or None, content_type=PATCH_TYPES[patch_type])

    def delete(self, path: str, *, missing_ok: bool = True, **query: str) -> Any:
        try:
            return self.request("DELETE", path, query=query or None)
        except ApiError as error:
            if error.status == 404 and missing_ok:
                return None
            raise

    def exists(self, path: str) -> bool:
        try:
            self.get(path)
        except ApiError as error:
            if error.status == 404:
                return False
            raise
        return True

    def items(self, path: str, **query: str) -> list[JsonObject]:
        """The ``items`` of a list call (``labelSelector=...`` etc. as keyword arguments)."""
        answer = self.get(path, **query)
        return list(answer.get("items", [])) if isinstance(answer, dict) else []


def wait_for(
    probe: Callable[[], T | None],
    *,
    timeout: float,
    what: str,
    interval: float = 0.25,
    describe: Callable[[], str] | None = None,
) -> T:
    """Poll ``probe`` until it returns something truthy, or raise WaitTimeoutError after ``timeout`` seconds.

    ``probe`` may raise ApiError (e.g. 404 while the object does not exist yet); that counts as "not
    yet" and the last error is shown if time runs out. ``describe`` adds what was last seen.
    """
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while True:
        try:
            value = probe()
            if value:
                return value
        except (ApiError, OSError) as error:
            last_error = error
        if time.monotonic() >= deadline:
            detail = []
            if last_error is not None:
                detail.append(f"last error: {last_error}")
            if describe is not None:
                try:
                    detail.append(f"last seen: {describe()}")
                except (ApiError, OSError) as error:
                    detail.append(f"(describe failed: {error})")
            suffix = ("; " + "; ".join(detail)) if detail else ""
            raise WaitTimeoutError(f"timed out after {timeout:.0f}s waiting for {what}{suffix}")
        time.sleep(interval)


def condition(obj: Mapping[str, Any], kind: str) -> Mapping[str, Any] | None:
    """The ``status.conditions`` entry of type ``kind``, if present."""
    for entry in (obj.get("status") or {}).get("conditions") or []:
        if entry.get("type") == kind:
            return dict(entry)
    return None


def is_condition_true(obj: Mapping[str, Any], kind: str) -> bool:
    entry = condition(obj, kind)
    return entry is not None and entry.get("status") == "True"
