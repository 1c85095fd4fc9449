"""Offline JSON schemas for kubeconform, generated from our own kube-apiserver's OpenAPI.

``make e2e-infra`` calls ``ensure_schemas`` after the build: it starts etcd + kube-apiserver, reads
``/openapi/v2`` and writes one standalone schema per kind in kubeconform's directory layout::

    $BROOK_CACHE/k8s-<v>/schemas/v<v>-standalone-strict/statefulset-apps-v1.json
    $BROOK_CACHE/k8s-<v>/schemas/v<v>-standalone/...
    $BROOK_CACHE/k8s-<v>/schemas/master-standalone{,-strict} -> the versioned dirs

so ``kubeconform -strict -schema-location <schemas>`` works offline (``-kubernetes-version`` optional).
Why not kubernetes-validate's schemas (PyPI): their ``$ref`` is an absolute ``/api/_definitions.json``
that kubeconform resolves against the file system root, and they would be one more download; these
are exactly the API our tests run against.

CRDs: ``python -m e2e.schemas --crd crds/*.yaml --out DIR`` installs CRDs into a throw-away API
server and writes their kinds' schemas the same way (the API server publishes a CRD's structural
schema in its OpenAPI), e.g. for ``helm template charts/brook | kubeconform`` with example CRs.

The conversion follows what kubeconform's schemas (yannh/kubernetes-json-schema, made with
openapi2jsonschema) do: every ``$ref`` resolved into a local ``definitions`` section (recursive
types such as JSONSchemaProps stay refs), IntOrString and Quantity accept strings and numbers,
optional fields accept null, and the strict variant adds ``additionalProperties: false``.
"""

from __future__ import annotations

import argparse
import copy
import json
import shutil
import sys
import time
from collections.abc import Collection, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from e2e.kubeapi import KubeApi, wait_for
from e2e.versions import Layout, default_layout

# Bump when the conversion changes: cached schema directories are then regenerated.
SCHEMA_REVISION = 1

REF_PREFIX = "#/definitions/"
INT_OR_STRING = {"oneOf": [{"type": "string"}, {"type": "integer"}]}
NUMBER_OR_STRING = {"oneOf": [{"type": "string"}, {"type": "number"}]}
# Definitions whose OpenAPI type is "string" but whose YAML is often a number (`cpu: 1`, `port: 80`).
SPECIAL_DEFINITIONS: Mapping[str, Mapping[str, Any]] = {
    "io.k8s.apimachinery.pkg.util.intstr.IntOrString": INT_OR_STRING,
    "io.k8s.apimachinery.pkg.api.resource.Quantity": NUMBER_OR_STRING,
}


def kind_filename(group: str, version: str, kind: str) -> str:
    """kubeconform's ``{{.ResourceKind}}{{.KindSuffix}}.json``: first label of the group only."""
    suffix = f"-{group.split('.', maxsplit=1)[0]}-{version}" if group else f"-{version}"
    return f"{kind}{suffix}.json".lower()


def _ref_name(ref: str) -> str:
    return ref.removeprefix(REF_PREFIX)


def _convert(node: Any, *, strict: bool, optional: bool) -> Any:
    """Rewrite one schema node (recursively) into kubeconform's dialect."""
    if isinstance(node, list):
        return [_convert(item, strict=strict, optional=optional) for item in node]
    if not isinstance(node, dict):
        return node
    if isinstance(node.get("$ref"), str):
        name = _ref_name(node["$ref"])
        if name in SPECIAL_DEFINITIONS:
            return copy.deepcopy(dict(SPECIAL_DEFINITIONS[name]))
        return {"$ref": REF_PREFIX + name}
    if node.get("format") == "int-or-string" or node.get("x-kubernetes-int-or-string"):
        converted: dict[str, Any] = copy.deepcopy(INT_OR_STRING)
        if "description" in node:
            converted["description"] = node["description"]
        return converted
    out: dict[str, Any] = {}
    required = set(node.get("required", ()))
    for key, value in node.items():
        if key == "properties" and isinstance(value, dict):
            out[key] = {
                name: _convert(prop, strict=strict, optional=name not in required)
                for name, prop in value.items()
            }
        elif key in {"items", "additionalProperties", "allOf", "anyOf", "oneOf", "not"}:
            out[key] = _convert(value, strict=strict, optional=False)
        else:
            out[key] = value
    kind = out.get("type")
    if optional and isinstance(kind, str):
        out["type"] = [kind, "null"]
    if (
        strict
        and "properties" in out
        and "additionalProperties" not in out
        and not out.get("x-kubernetes-preserve-unknown-fields")
    ):
        out["additionalProperties"] = False
    return out


def _referenced(schema: Any) -> Iterable[str]:
    if isinstance(schema, dict):
        # A string: JSONSchemaProps has a *property* named "$ref" whose value is a schema.
        if isinstance(schema.get("$ref"), str):
            yield _ref_name(schema["$ref"])
        for value in schema.values():
            yield from _referenced(value)
    elif isinstance(schema, list):
        for item in schema:
            yield from _referenced(item)


def standalone(name: str, definitions: Mapping[str, Any], *, strict: bool) -> dict[str, Any]:
    """One kind's schema with the transitive closure of its definitions embedded."""
    converted: dict[str, Any] = {}
    pending = [name]
    while pending:
        current = pending.pop()
        if current in converted or current in SPECIAL_DEFINITIONS:
            continue
        converted[current] = _convert(definitions.get(current, {}), strict=strict, optional=False)
        pending.extend(_referenced(converted[current]))
    root = dict(converted.pop(name))
    if converted:
        root["definitions"] = converted
    root["$schema"] = "http://json-schema.org/schema#"
    return root


def kinds(definitions: Mapping[str, Any]) -> Iterable[tuple[str, str, str, str]]:
    """(definition, group, version, kind) for every definition that is a top-level API kind."""
    for name, schema in definitions.items():
        for gvk in schema.get("x-kubernetes-group-version-kind", ()) or ():
            yield name, gvk.get("group", ""), gvk["version"], gvk["kind"]


def write_schemas(
    swagger: Mapping[str, Any], out_dir: Path, *, version: str, only_kinds: Collection[str] | None = None
) -> int:
    """Write both variants for every kind in ``swagger`` (or only ``only_kinds``); returns the count.

    ``master-standalone[-strict]`` links point at the versioned directories, so kubeconform finds the
    schemas with or without ``-kubernetes-version``.
    """
    definitions = swagger["definitions"]
    selected = [entry for entry in kinds(definitions) if only_kinds is None or entry[3] in only_kinds]
    for strict in (True, False):
        target = out_dir / f"v{version}-standalone{'-strict' if strict else ''}"
        target.mkdir(parents=True, exist_ok=True)
        for name, group, api_version, kind in selected:
            schema = standalone(name, definitions, strict=strict)
            (target / kind_filename(group, api_version, kind)).write_text(
                json.dumps(schema, separators=(",", ":")), encoding="utf-8"
            )
        alias = out_dir / f"master-standalone{'-strict' if strict else ''}"
        if alias.is_symlink() or alias.exists():
            alias.unlink()
        alias.symlink_to(target.name)
    return len(selected)


def fetch_openapi(api: KubeApi, *, expect_kinds: Sequence[str] = (), timeout: float = 60.0) -> dict[str, Any]:
    """``/openapi/v2``; with ``expect_kinds``, wait until the aggregator has published them (CRDs)."""

    def probe() -> dict[str, Any] | None:
        swagger: dict[str, Any] = api.request("GET", "/openapi/v2", timeout=120)
        published = {kind for _, _, _, kind in kinds(swagger.get("definitions", {}))}
        return swagger if all(kind in published for kind in expect_kinds) else None

    return wait_for(probe, timeout=timeout, interval=1.0, what=f"OpenAPI to publish {list(expect_kinds)}")


def schema_stamp(layout: Layout) -> str:
    return json.dumps({"rev": SCHEMA_REVISION, "k8s": layout.versions.k8s}, sort_keys=True)


def ensure_schemas(layout: Layout | None = None) -> Path:
    """Generate the built-in kinds' schemas once per Kubernetes version; returns the schema dir."""
    from e2e.cluster import ClusterOptions, control_plane  # cluster imports nothing from here

    layout = layout or default_layout()
    out_dir = layout.schema_dir
    stamp = out_dir / ".stamp"
    if stamp.is_file() and stamp.read_text(encoding="utf-8") == schema_stamp(layout):
        return out_dir
    started = time.monotonic()
    shutil.rmtree(out_dir, ignore_errors=True)
    with control_plane(ClusterOptions(api_only=True)) as plane:
        swagger = fetch_openapi(plane.api)
    count = write_schemas(swagger, out_dir, version=layout.versions.k8s)
    stamp.write_text(schema_stamp(layout), encoding="utf-8")
    print(
        f"schemas: {count} kinds -> {out_dir} ({time.monotonic() - started:.0f}s)",
        file=sys.stderr,
        flush=True,
    )
    return out_dir


def crd_schemas(crd_files: Sequence[Path], out_dir: Path, *, layout: Layout | None = None) -> int:
    """Install CRDs into a throw-away API server and write their kinds' schemas into ``out_dir``."""
    from e2e.cluster import ClusterOptions, control_plane

    layout = layout or default_layout()
    with control_plane(ClusterOptions(api_only=True)) as plane:
        applied = plane.kubectl("apply", *(f"--filename={path}" for path in crd_files), "--output=json")
        document = json.loads(applied.stdout)
        crds = document.get("items", [document])
        wanted = {crd["spec"]["names"]["kind"] for crd in crds}
        swagger = fetch_openapi(plane.api, expect_kinds=sorted(wanted))
    return write_schemas(swagger, out_dir, version=layout.versions.k8s, only_kinds=wanted)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m e2e.schemas", description=__doc__.split("\n")[0])
    parser.add_argument("--crd", nargs="*", type=Path, default=[], help="CRD files (YAML or JSON)")
    parser.add_argument("--out", type=Path, help="output directory for --crd (a kubeconform schema location)")
    args = parser.parse_args(argv)
    layout = default_layout()
    if not args.crd:
        print(ensure_schemas(layout))
        return 0
    if args.out is None:
        parser.error("--crd needs --out")
    count = crd_schemas(args.crd, args.out, layout=layout)
    print(f"{count} schemas -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
