"""Pinned versions and cache locations of the e2e control plane.

`versions.env` next to this file is the single source of the versions (the Makefile `include`s the
same file); this module parses it and derives where things live in the cache. `k8s_build` writes
there, `cluster` and the pytest fixtures read from there.

Layout (``$BROOK_CACHE`` defaults to ``~/.cache/brook``)::

    $BROOK_CACHE/go/{mod,build}              Go module and build caches (never inside the repo)
    $BROOK_CACHE/k8s-<K8S_VERSION>/bin/       etcd kube-apiserver ... helm kubeconform
    $BROOK_CACHE/k8s-<K8S_VERSION>/src/       generated wrapper modules (go.mod/go.sum)
    $BROOK_CACHE/k8s-<K8S_VERSION>/schemas/   kubeconform JSON schemas generated from our apiserver
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

VERSIONS_FILE = Path(__file__).resolve().parent / "versions.env"

# Every binary the build produces, in build order (the k8s ones share one wrapper module).
K8S_BINARIES: tuple[str, ...] = ("kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubectl")
ALL_BINARIES: tuple[str, ...] = ("etcd", *K8S_BINARIES, "kwok", "kwokctl", "helm", "kubeconform")


@dataclass(frozen=True, slots=True)
class Versions:
    """The pinned component versions, without a leading ``v``."""

    k8s: str
    etcd: str
    kwok: str
    helm: str
    kubeconform: str

    @property
    def k8s_minor(self) -> int:
        return int(self.k8s.split(".")[1])

    @property
    def staging(self) -> str:
        """Version of the k8s.io staging modules that belong to this Kubernetes tag (1.36.3 -> 0.36.3)."""
        return "0." + self.k8s.split(".", 1)[1]


def parse_env_file(path: Path) -> dict[str, str]:
    """``KEY=value`` lines; ``#`` comments and blank lines ignored (the subset make and sh agree on)."""
    values: dict[str, str] = {}
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        if not sep:
            raise ValueError(f"{path}: not a KEY=value line: {raw!r}")
        values[key.strip()] = value.strip()
    return values


def load_versions(path: Path = VERSIONS_FILE) -> Versions:
    env = parse_env_file(path)
    return Versions(
        k8s=env["K8S_VERSION"],
        etcd=env["ETCD_VERSION"],
        kwok=env["KWOK_VERSION"],
        helm=env["HELM_VERSION"],
        kubeconform=env["KUBECONFORM_VERSION"],
    )


def cache_root() -> Path:
    return Path(os.environ.get("BROOK_CACHE") or Path.home() / ".cache" / "brook").expanduser()


@dataclass(frozen=True, slots=True)
class Layout:
    """Where one pinned version set lives in the cache."""

    versions: Versions
    root: Path

    @property
    def home(self) -> Path:
        return self.root / f"k8s-{self.versions.k8s}"

    @property
    def bin_dir(self) -> Path:
        return self.home / "bin"

    @property
    def src_dir(self) -> Path:
        return self.home / "src"

    @property
    def schema_dir(self) -> Path:
        """The kubeconform ``-schema-location`` directory (it appends ``<version>-standalone-strict/``)."""
        return self.home / "schemas"

    @property
    def go_dir(self) -> Path:
        return self.root / "go"

    def binary(self, name: str) -> Path:
        return self.bin_dir / name


def default_layout() -> Layout:
    return Layout(versions=load_versions(), root=cache_root())
