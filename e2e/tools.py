"""Run the cached CLI tools (helm, kubeconform, kubectl) from tests, isolated from the user's config.

Used by ``e2e/testing.py`` (with a cluster's kubeconfig) and directly by tests that need no cluster,
e.g. ``helm template charts/brook | kubeconform``. Helm gets its cache/config/data homes in a private
directory so a developer's repositories and plugins never change what a test sees.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

from e2e.versions import Layout, default_layout

_HELM_HOME = Path(tempfile.gettempdir()) / f"brook-e2e-helm-{os.getuid()}"


class ToolMissingError(RuntimeError):
    """A binary is not in the cache: ``make e2e-infra`` builds it."""


def binary(name: str, layout: Layout | None = None) -> Path:
    layout = layout or default_layout()
    path = layout.binary(name)
    if not path.is_file():
        raise ToolMissingError(
            f"{path} is missing: run `make e2e-infra` (builds it from the Go module proxy)"
        )
    return path


def run_tool(
    name: str,
    *args: str,
    stdin: str | None = None,
    env: Mapping[str, str] | None = None,
    check: bool = True,
    timeout: float = 120.0,
    layout: Layout | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run a cached tool; with ``check`` a failure raises CalledProcessError carrying stdout/stderr."""
    command = [str(binary(name, layout)), *args]
    full_env = {**os.environ, **(env or {})}
    result = subprocess.run(
        command, input=stdin, capture_output=True, text=True, timeout=timeout, env=full_env, check=False
    )
    if check and result.returncode != 0:
        raise subprocess.CalledProcessError(result.returncode, [name, *args], result.stdout, result.stderr)
    return result


def helm_env(home: Path = _HELM_HOME, kubeconfig: Path | None = None) -> dict[str, str]:
    env = {
        "HELM_CACHE_HOME": str(home / "cache"),
        "HELM_CONFIG_HOME": str(home / "config"),
        "HELM_DATA_HOME": str(home / "data"),
    }
    if kubeconfig is not None:
        env["KUBECONFIG"] = str(kubeconfig)
    return env


def helm(*args: str, kubeconfig: Path | None = None, check: bool = True, timeout: float = 120.0) -> str:
    """``helm <args>``; returns stdout."""
    return run_tool("helm", *args, env=helm_env(kubeconfig=kubeconfig), check=check, timeout=timeout).stdout


def schema_location(layout: Layout | None = None) -> Path:
    """The offline schema directory for ``kubeconform -schema-location`` (made by ``make e2e-infra``)."""
    layout = layout or default_layout()
    directory = layout.schema_dir
    if not (directory / ".stamp").is_file():
        raise ToolMissingError(f"{directory} has no schemas: run `make e2e-infra`")
    return directory


def kubeconform(
    manifests: str,
    *,
    extra_schema_dirs: Sequence[Path] = (),
    strict: bool = True,
    ignore_missing_schemas: bool = False,
    check: bool = True,
) -> subprocess.CompletedProcess[str]:
    """Validate multi-document YAML/JSON from stdin against the offline schemas (never the network).

    ``extra_schema_dirs`` are further ``-schema-location`` directories in kubeconform's layout, e.g.
    CRD schemas from ``python -m e2e.schemas --crd ...``. Output is kubeconform's ``-summary`` text.
    """
    layout = default_layout()
    args = ["-summary", "-kubernetes-version", layout.versions.k8s]
    if strict:
        args.append("-strict")
    if ignore_missing_schemas:
        args.append("-ignore-missing-schemas")
    for directory in (schema_location(layout), *extra_schema_dirs):
        args += ["-schema-location", str(directory)]
    return run_tool("kubeconform", *args, "-", stdin=manifests, check=check, layout=layout)
