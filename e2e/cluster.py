"""A real Kubernetes control plane on 127.0.0.1, with kwok's fake nodes, for the e2e tests.

Started by the ``k8s_cluster`` fixture (``e2e/conftest.py``) and by ``schemas`` (API server only, to
dump its OpenAPI). Runs the binaries ``k8s_build`` put in the cache:

    etcd -> kube-apiserver -> kube-controller-manager, kube-scheduler, kwok -> fake Nodes

Why the kwok controller directly, and not ``kwokctl create cluster --runtime binary``: kwokctl starts
its components as detached daemons that outlive the process that started them (no parent-death
signal; a killed pytest leaves them running), writes its own PKI and flags, reads ``~/.kwok``, and
hides the controller-manager's controller list. Starting five processes ourselves is a page of code,
and gives us the parent-death signal, one log file per component in the work dir, our own flags
(every default controller of kube-controller-manager; default admission plugins) and kwok Stages of
our own (``e2e/kwok/stages.yaml``: pod readiness that tests can switch off, a fake volume provisioner).

Everything listens on 127.0.0.1 on ports picked at random, every wait is bounded, and ``stop()`` is
registered with atexit on top of the parent-death signal (``processes``).
"""

from __future__ import annotations

import atexit
import contextlib
import dataclasses
import functools
import json
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from e2e.kubeapi import ApiError, JsonObject, KubeApi, is_condition_true, wait_for
from e2e.pki import Pki, kubeconfig, write_kubeconfig, write_pki
from e2e.processes import ClusterStartError, Component, ssl_context
from e2e.versions import Layout, default_layout
from harness.processes import free_ports

KWOK_STAGES = Path(__file__).resolve().parent / "kwok" / "stages.yaml"

# The annotation kwok's stages (and `kwok --manage-nodes-with-annotation-selector`) look for.
FAKE_NODE_ANNOTATION = ("kwok.x-k8s.io/node", "fake")
# Set to "false" on a pod to make it Running but not Ready (see e2e/kwok/stages.yaml).
READY_ANNOTATION = "e2e.brook.dev/ready"
# Default StorageClass whose claims kwok "provisions" (hostPath PVs that are never touched).
STORAGE_CLASS = "kwok-volume"

SERVICE_CIDR = "10.96.0.0/16"
POD_CIDR = "10.244.0.0/16"
ZONES: tuple[str, ...] = ("zone-a", "zone-b", "zone-c")


@dataclass(frozen=True, slots=True)
class ClusterOptions:
    """What to start. ``api_only`` is etcd + kube-apiserver (enough for CRDs and OpenAPI dumps)."""

    nodes: int = 3
    api_only: bool = False
    start_timeout: float = 180.0
    work_dir: Path | None = None
    keep_work_dir: bool = False


@dataclass(slots=True)
class ControlPlane:
    """The processes, PKI and kubeconfig of one test control plane. Use ``start_control_plane``."""

    layout: Layout
    options: ClusterOptions
    work_dir: Path
    pki: Pki = field(init=False)
    components: list[Component] = field(default_factory=list)
    apiserver_port: int = 0
    timings: dict[str, float] = field(default_factory=dict)
    nodes: list[str] = field(default_factory=list)
    _api: KubeApi | None = None
    _stopped: bool = False

    @property
    def token(self) -> str:
        return self.pki.token

    @property
    def ca_file(self) -> Path:
        return self.pki.ca_file

    @property
    def kubeconfig(self) -> Path:
        return self.work_dir / "kubeconfig"

    @property
    def server(self) -> str:
        return f"https://127.0.0.1:{self.apiserver_port}"

    @property
    def api(self) -> KubeApi:
        if self._api is None:
            self._api = KubeApi(self.server, token=self.token, ca_file=self.ca_file)
        return self._api

    def bin(self, name: str) -> str:
        return str(self.layout.binary(name))

    def log(self, component: str) -> Path:
        return self.work_dir / "logs" / f"{component}.log"

    # --- start ---------------------------------------------------------------------------------------
    def start(self) -> None:
        started = time.monotonic()
        deadline = started + self.options.start_timeout
        self.pki = write_pki(self.work_dir / "pki")
        self._mark("pki", started)
        etcd_url = self._start_etcd(deadline)
        self._start_apiserver(etcd_url, deadline)
        write_kubeconfig(
            self.kubeconfig,
            kubeconfig(server=self.server, ca_file=self.ca_file, user="admin", token=self.token),
        )
        if not self.options.api_only:
            self._start_controllers(deadline)
            self._bootstrap(deadline)
        self._mark("total", started)

    def _mark(self, name: str, since: float) -> None:
        self.timings[name] = round(time.monotonic() - since, 2)

    def _launch(self, name: str, command: list[str], env: Mapping[str, str] | None = None) -> Component:
        component = Component(name=name, command=command, log=self.log(name), env=env)
        self.components.append(component)
        component.start()
        return component

    def _remaining(self, deadline: float) -> float:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise ClusterStartError(f"control plane not up within {self.options.start_timeout:.0f}s")
        return remaining

    def _start_etcd(self, deadline: float) -> str:
        since = time.monotonic()
        client_url, peer_url = (f"http://127.0.0.1:{port}" for port in free_ports(2))
        etcd = self._launch(
            "etcd",
            [
                self.bin("etcd"),
                "--name=default",
                f"--data-dir={self.work_dir / 'etcd'}",
                f"--listen-client-urls={client_url}",
                f"--advertise-client-urls={client_url}",
                f"--listen-peer-urls={peer_url}",
                f"--initial-advertise-peer-urls={peer_url}",
                f"--initial-cluster=default={peer_url}",
                # Test data: no fsync (much faster on a shared disk), compact often.
                "--unsafe-no-fsync=true",
                "--auto-compaction-retention=1",
                "--log-level=warn",
            ],
        )
        etcd.wait_healthy(f"{client_url}/health", deadline=deadline)
        self._mark("etcd", since)
        return client_url

    def _start_apiserver(self, etcd_url: str, deadline: float) -> None:
        since = time.monotonic()
        [self.apiserver_port] = free_ports(1)
        pki = self.pki
        apiserver = self._launch(
            "kube-apiserver",
            [
                self.bin("kube-apiserver"),
                f"--etcd-servers={etcd_url}",
                "--bind-address=127.0.0.1",
                f"--secure-port={self.apiserver_port}",
                # The `kubernetes` Service's endpoints would name this address; a loopback address is
                # invalid there, so the endpoint reconciler is off (nothing in-cluster calls the API).
                "--advertise-address=127.0.0.1",
                "--endpoint-reconciler-type=none",
                f"--cert-dir={self.work_dir / 'apiserver-certs'}",
                f"--tls-cert-file={pki.serving_cert}",
                f"--tls-private-key-file={pki.serving_key}",
                f"--client-ca-file={pki.ca_file}",
                f"--token-auth-file={pki.tokens_file}",
                "--authorization-mode=Node,RBAC",
                f"--service-cluster-ip-range={SERVICE_CIDR}",
                "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
                f"--service-account-key-file={pki.sa_pub}",
                f"--service-account-signing-key-file={pki.sa_key}",
                "--allow-privileged=true",
                "--profiling=false",
                # Default admission plugins stay on (ServiceAccount, DefaultStorageClass, ...): the
                # operator must cope with what a real cluster does.
            ],
        )
        apiserver.wait_healthy(
            f"{self.server}/readyz",
            deadline=deadline,
            context=ssl_context(self.ca_file),
            headers={"Authorization": f"Bearer {self.token}"},
        )
        self._mark("kube-apiserver", since)

    def _start_controllers(self, deadline: float) -> None:
        since = time.monotonic()
        kubeconfig_path = str(self.kubeconfig)
        kcm_port, scheduler_port, kwok_port = free_ports(3)
        delegated = [
            f"--kubeconfig={kubeconfig_path}",
            f"--authentication-kubeconfig={kubeconfig_path}",
            f"--authorization-kubeconfig={kubeconfig_path}",
            "--bind-address=127.0.0.1",
            "--authorization-always-allow-paths=/healthz,/readyz,/livez,/metrics",
            # Our API server has no front-proxy (requestheader) CA to look up; without this they log
            # "missing content for CA bundle" a few times a second.
            "--authentication-skip-lookup=true",
            "--leader-elect=false",
        ]
        kcm = self._launch(
            "kube-controller-manager",
            [
                self.bin("kube-controller-manager"),
                *delegated,
                f"--secure-port={kcm_port}",
                # Every controller that is on by default: statefulset, deployment, replicaset,
                # endpoint(slice), disruption, garbage-collector, namespace, serviceaccount(-token),
                # root-ca-cert-publisher, persistentvolume-binder, node-lifecycle, job, ...
                "--controllers=*",
                f"--service-account-private-key-file={self.pki.sa_key}",
                f"--root-ca-file={self.ca_file}",
                f"--cluster-signing-cert-file={self.ca_file}",
                f"--cluster-signing-key-file={self.pki.ca_key}",
                "--kube-api-qps=100",
                "--kube-api-burst=200",
                "--profiling=false",
            ],
        )
        scheduler = self._launch(
            "kube-scheduler",
            [self.bin("kube-scheduler"), *delegated, f"--secure-port={scheduler_port}", "--profiling=false"],
        )
        # kwok reads ~/.kwok/kwok.yaml when it exists, whatever --config says: give it an empty HOME.
        kwok_home = self.work_dir / "kwok-home"
        kwok_home.mkdir(exist_ok=True)
        log_level = os.environ.get("BROOK_E2E_KWOK_LOG")  # e.g. DEBUG: shows which stage matched
        kwok = self._launch(
            "kwok",
            [
                self.bin("kwok"),
                f"--kubeconfig={kubeconfig_path}",
                f"--config={KWOK_STAGES}",
                "--manage-all-nodes=false",
                f"--manage-nodes-with-annotation-selector={FAKE_NODE_ANNOTATION[0]}={FAKE_NODE_ANNOTATION[1]}",
                "--manage-nodes-with-label-selector=",
                f"--cidr={POD_CIDR}",
                "--node-lease-duration-seconds=40",
                f"--server-address=127.0.0.1:{kwok_port}",
                *([f"--v={log_level}"] if log_level else []),
            ],
            env={**os.environ, "HOME": str(kwok_home)},
        )
        insecure = ssl_context(None)
        kcm.wait_healthy(f"https://127.0.0.1:{kcm_port}/healthz", deadline=deadline, context=insecure)
        scheduler.wait_healthy(
            f"https://127.0.0.1:{scheduler_port}/readyz", deadline=deadline, context=insecure
        )
        kwok.wait_healthy(f"http://127.0.0.1:{kwok_port}/healthz", deadline=deadline)
        self._mark("controllers", since)

    def _bootstrap(self, deadline: float) -> None:
        """Default StorageClass, fake nodes; then wait until pods could really be scheduled and run."""
        since = time.monotonic()
        api = self.api
        api.create(
            "/apis/storage.k8s.io/v1/storageclasses",
            {
                "apiVersion": "storage.k8s.io/v1",
                "kind": "StorageClass",
                "metadata": {
                    "name": STORAGE_CLASS,
                    "annotations": {"storageclass.kubernetes.io/is-default-class": "true"},
                },
                "provisioner": "kwok.x-k8s.io/volume",
                "reclaimPolicy": "Delete",
                "volumeBindingMode": "Immediate",
                "allowVolumeExpansion": True,
            },
        )
        for index in range(self.options.nodes):
            self.add_node(f"kwok-node-{index}", zone=ZONES[index % len(ZONES)])
        for name in self.nodes:
            wait_for(
                functools.partial(self.schedulable_node, name),
                timeout=self._remaining(deadline),
                what=f"fake node {name} Ready without taints",
                describe=functools.partial(self.describe_node, name),
            )
        # The ServiceAccount admission plugin rejects pods until the namespace's `default`
        # ServiceAccount exists; its appearance also proves the controller-manager is working.
        wait_for(
            lambda: api.exists("/api/v1/namespaces/default/serviceaccounts/default"),
            timeout=self._remaining(deadline),
            what="the default ServiceAccount (kube-controller-manager's serviceaccount controller)",
        )
        self._mark("bootstrap", since)

    # --- nodes ---------------------------------------------------------------------------------------
    def schedulable_node(self, name: str) -> bool:
        return node_schedulable(self.api.get(f"/api/v1/nodes/{name}"))

    def describe_node(self, name: str) -> str:
        node = self.api.get(f"/api/v1/nodes/{name}")
        return json.dumps(
            {"taints": node["spec"].get("taints"), "conditions": node["status"].get("conditions")}
        )

    def add_node(
        self, name: str, *, zone: str = ZONES[0], labels: Mapping[str, str] | None = None
    ) -> JsonObject:
        """Create a fake Node kwok manages (Ready within a second or so; no taints)."""
        node: JsonObject = {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {
                "name": name,
                "annotations": {
                    FAKE_NODE_ANNOTATION[0]: FAKE_NODE_ANNOTATION[1],
                    "node.alpha.kubernetes.io/ttl": "0",
                },
                "labels": {
                    "kubernetes.io/hostname": name,
                    "kubernetes.io/os": "linux",
                    "kubernetes.io/arch": "amd64",
                    "type": "kwok",
                    "topology.kubernetes.io/zone": zone,
                    **(labels or {}),
                },
            },
            # Realistic capacity, so resource requests and pod limits mean something.
            "status": {
                "allocatable": {"cpu": "16", "memory": "64Gi", "pods": "110"},
                "capacity": {"cpu": "16", "memory": "64Gi", "pods": "110"},
                # Distinct, never-routed node addresses (pods' hostIP comes from here).
                "addresses": [
                    {"type": "InternalIP", "address": f"10.0.0.{len(self.nodes) + 10}"},
                    {"type": "Hostname", "address": name},
                ],
            },
        }
        created: JsonObject = self.api.create("/api/v1/nodes", node)
        self.nodes.append(name)
        return created

    # --- use -----------------------------------------------------------------------------------------
    def kubectl(
        self, *args: str, stdin: str | None = None, check: bool = True, timeout: float = 60.0
    ) -> subprocess.CompletedProcess[str]:
        """Run kubectl against this cluster; on failure the error shows kubectl's stderr."""
        command = [
            self.bin("kubectl"),
            f"--kubeconfig={self.kubeconfig}",
            f"--cache-dir={self.work_dir / 'kube-cache'}",
            *args,
        ]
        result = subprocess.run(
            command, input=stdin, capture_output=True, text=True, timeout=timeout, check=False
        )
        if check and result.returncode != 0:
            raise subprocess.CalledProcessError(
                result.returncode, ["kubectl", *args], result.stdout, result.stderr
            )
        return result

    def stop(self) -> None:
        """Stop every component, newest first (kwok before the API server, etcd last)."""
        if self._stopped:
            return
        self._stopped = True
        for component in reversed(self.components):
            component.stop()
        if not self.options.keep_work_dir:
            shutil.rmtree(self.work_dir, ignore_errors=True)


def node_schedulable(node: Mapping[str, Any]) -> bool:
    """Ready, and the node-lifecycle controller has removed its not-ready/uninitialized taints."""
    taints = node.get("spec", {}).get("taints") or []
    return is_condition_true(node, "Ready") and not taints


def required_binaries(options: ClusterOptions) -> list[str]:
    if options.api_only:
        return ["etcd", "kube-apiserver", "kubectl"]
    return ["etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok", "kubectl"]


def start_control_plane(
    options: ClusterOptions | None = None, *, layout: Layout | None = None
) -> ControlPlane:
    """Start a control plane; on failure everything already started is stopped (logs are kept)."""
    options = options or ClusterOptions()
    layout = layout or default_layout()
    missing = [name for name in required_binaries(options) if not layout.binary(name).is_file()]
    if missing:
        raise ClusterStartError(
            f"missing {', '.join(missing)} in {layout.bin_dir}: run `make e2e-infra` "
            "(builds them from the Go module proxy, about an hour on 2 cores the first time)"
        )
    if options.work_dir is not None:
        work_dir = options.work_dir
        work_dir.mkdir(parents=True, exist_ok=True)
    else:
        work_dir = Path(tempfile.mkdtemp(prefix="brook-k8s-"))
    plane = ControlPlane(layout=layout, options=options, work_dir=work_dir)
    atexit.register(plane.stop)
    try:
        plane.start()
    except BaseException as error:
        # Keep the logs of a failed start: they are the only clue.
        plane.options = dataclasses.replace(options, keep_work_dir=True)
        plane.stop()
        if isinstance(error, (ClusterStartError, ApiError, OSError, AssertionError)):
            raise ClusterStartError(f"{error}\n(work dir kept: {work_dir})") from error
        raise
    return plane


@contextlib.contextmanager
def control_plane(options: ClusterOptions | None = None) -> Iterator[ControlPlane]:
    plane = start_control_plane(options)
    try:
        yield plane
    finally:
        plane.stop()


__all__ = [
    "FAKE_NODE_ANNOTATION",
    "READY_ANNOTATION",
    "STORAGE_CLASS",
    "ClusterOptions",
    "ClusterStartError",
    "ControlPlane",
    "control_plane",
    "node_schedulable",
    "start_control_plane",
]
