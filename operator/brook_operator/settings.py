"""Operator settings, read once from the environment (the Helm chart and `brook-operator run` set them).

Each field is documented with `#:`; docs/operator.md lists the variables. The bootstrap override lets
tests (and unusual networks) point the Topic and ConsumerGroup reconcilers at brokers other than the
in-cluster bootstrap Service, for example a Brook process on the operator's loopback.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping

PREFIX = "BROOK_OPERATOR_"


@dataclasses.dataclass(frozen=True)
class Settings:
    #: Namespaces to watch (BROOK_OPERATOR_NAMESPACES, comma-separated); empty watches all namespaces.
    namespaces: tuple[str, ...] = ()
    #: Image repository of the broker (BROOK_OPERATOR_BROKER_IMAGE); the tag is KafkaCluster spec.version.
    broker_image: str = "brook"
    #: The cluster's DNS domain (BROOK_OPERATOR_CLUSTER_DOMAIN), used in advertised broker addresses.
    cluster_domain: str = "cluster.local"
    #: Bootstrap servers to use instead of a cluster's bootstrap Service (BROOK_OPERATOR_BOOTSTRAP_OVERRIDE):
    #: entries `[NAMESPACE/NAME=]HOST:PORT[,HOST:PORT...]` separated by `;` or spaces; NAMESPACE may be `*`,
    #: and an entry without `NAMESPACE/NAME=` applies to every cluster.
    bootstrap_overrides: Mapping[str, str] = dataclasses.field(default_factory=dict)
    #: Seconds between periodic resyncs of KafkaClusters and Topics (BROOK_OPERATOR_RESYNC_SECONDS): drift
    #: made outside the operator is reverted within this time.
    resync_seconds: float = 60.0
    #: Seconds between ConsumerGroup state and lag refreshes (BROOK_OPERATOR_GROUP_REFRESH_SECONDS).
    group_refresh_seconds: float = 30.0
    #: Seconds a KafkaCluster may be Reconciling before it is reported Stalled
    #: (BROOK_OPERATOR_PROGRESS_DEADLINE_SECONDS).
    progress_deadline_seconds: float = 600.0

    def bootstrap_for(self, *, namespace: str, name: str) -> str | None:
        """The override for one cluster, if any (a per-cluster entry wins over a global one)."""
        overrides = self.bootstrap_overrides
        return overrides.get(f"{namespace}/{name}") or overrides.get(f"*/{name}") or overrides.get("*")


def parse_bootstrap_overrides(text: str) -> dict[str, str]:
    """`"ns/a=h:1,h:2; h:3"` -> `{"ns/a": "h:1,h:2", "*": "h:3"}`."""
    overrides: dict[str, str] = {}
    for entry in text.replace(";", " ").split():
        key, sep, servers = entry.partition("=")
        if not sep:
            key, servers = "*", entry
        if not servers:
            raise ValueError(f"bootstrap override {entry!r} names no servers")
        overrides[key] = servers
    return overrides


def from_env(env: Mapping[str, str] | None = None) -> Settings:
    """Settings from BROOK_OPERATOR_* variables (defaults for the unset ones)."""
    env = os.environ if env is None else env

    def get(name: str) -> str | None:
        value = env.get(PREFIX + name)
        return value if value else None

    defaults = Settings()
    namespaces = get("NAMESPACES")
    return Settings(
        namespaces=tuple(n.strip() for n in namespaces.split(",") if n.strip()) if namespaces else (),
        broker_image=get("BROKER_IMAGE") or defaults.broker_image,
        cluster_domain=get("CLUSTER_DOMAIN") or defaults.cluster_domain,
        bootstrap_overrides=parse_bootstrap_overrides(get("BOOTSTRAP_OVERRIDE") or ""),
        resync_seconds=float(get("RESYNC_SECONDS") or defaults.resync_seconds),
        group_refresh_seconds=float(get("GROUP_REFRESH_SECONDS") or defaults.group_refresh_seconds),
        progress_deadline_seconds=float(
            get("PROGRESS_DEADLINE_SECONDS") or defaults.progress_deadline_seconds
        ),
    )
