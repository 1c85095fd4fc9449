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

Everything listens on 127.0.0.1 on ports picked at random. Every wait is bounded. Processes are
started with ``setpriv --pdeathsig KILL`` (they die with the Python process even on SIGKILL) and in
their own session (Ctrl-C reaches pytest, which then tears down in order); ``stop()`` is also
registered with atexit.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from e2e.kubeapi import ApiError, JsonObject, KubeApi, is_condition_true, wait_for
from e2e.versions import Layout, default_layout

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


class ClusterStartError(RuntimeError):
    """A component did not come up; the message includes the tail of its log."""


def free_port() -> int:
    """A loopback port nobody listens on right now (the usual bind-to-0 race is accepted)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def with_parent_death_signal(command: Sequence[str]) -> list[str]:
    """Prefix ``setpriv --pdeathsig KILL`` so the process dies with whoever started it.

    Same approach as ``tests/harness/jvm.py``. The kernel ties the signal to the forking *thread*, so
    it is only used from the main thread (a worker thread's exit would otherwise kill the cluster).
    """
    setpriv = shutil.which("setpriv")
    if setpriv is None or threading.current_thread() is not threading.main_thread():
        return list(command)
    return [setpriv, "--pdeathsig=KILL", "--", *command]


def log_tail(path: Path, lines: int = 30) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:])


@dataclass(slots=True)
class Component:
    """One running binary and its log file."""

    name: str
    command: list[str]
    log: Path
    env: Mapping[str, str] | None = None
    process: subprocess.Popen[bytes] | None = None
    _sink: IO[bytes] | None = None

    def start(self) -> None:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        self._sink = self.log.open("ab")
        self._sink.write(f"$ {' '.join(self.command)}\n".encode())
        self._sink.flush()
        self.process = subprocess.Popen(
            with_parent_death_signal(self.command),
            stdout=self._sink,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=dict(self.env) if self.env is not None else None,
            start_new_session=True,
        )

    def check_alive(self) -> None:
        if self.process is not None and self.process.poll() is not None:
            raise ClusterStartError(
                f"{self.name} exited with {self.process.returncode}; {self.log}:\n{log_tail(self.log)}"
            )

    def stop(self, timeout: float = 10.0) -> None:
        process = self.process
        if process is not None and process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
                process.wait(timeout=timeout)
        if self._sink is not None:
            self._sink.close()
            self._sink = None


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
    token: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    components: list[Component] = field(default_factory=list)
    apiserver_port: int = 0
    timings: dict[str, float] = field(default_factory=dict)
    nodes: list[str] = field(default_factory=list)
    _api: KubeApi | None = None
    _stopped: bool = False

    # --- paths ---------------------------------------------------------------------------------------
    @property
    def pki(self) -> Path:
        return self.work_dir / "pki"

    @property
    def ca_file(self) -> Path:
        return self.pki / "ca.crt"

    @property
    def kubeconfig(self) -> Path:
        return self.work_dir / "kubeconfig"

    @property
    def logs(self) -> Path:
        return self.work_dir / "logs"

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
        return self.logs / f"{component}.log"

    # --- start ---------------------------------------------------------------------------------------
    def start(self) -> None:
        started = time.monotonic()
        deadline = started + self.options.start_timeout
        self._write_pki()
        self.timings["pki"] = time.monotonic() - started

        etcd_url = self._start_etcd(deadline)
        self._start_apiserver(etcd_url, deadline)
        self._write_kubeconfig()
        if not self.options.api_only:
            self._start_controllers(deadline)
            self._bootstrap(deadline)
        self.timings["total"] = time.monotonic() - started

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

    def _wait_http(self, component: Component, url: str, deadline: float, *, token: bool = False) -> None:
        """Poll a health URL until it answers 200 (or the component dies, or time runs out)."""
        context = None
        if url.startswith("https"):
            # Controller-manager and scheduler serve /healthz with in-memory self-signed certs.
            context = ssl_context(self.ca_file if token else None)
        last = ""
        while True:
            component.check_alive()
            request = urllib.request.Request(url)
            if token:
                request.add_header("Authorization", f"Bearer {self.token}")
            try:
                with urllib.request.urlopen(request, timeout=5, context=context) as response:
                    if response.status == 200:
                        return
            except urllib.error.HTTPError as error:
                last = f"HTTP {error.code}: {error.read().decode(errors='replace')[-400:]}"
            except OSError as error:
                last = str(error)
            if time.monotonic() >= deadline:
                raise ClusterStartError(
                    f"{component.name} not healthy at {url} within {self.options.start_timeout:.0f}s "
                    f"(last: {last}); {component.log}:\n{log_tail(component.log)}"
                )
            time.sleep(0.25)

    def _write_pki(self) -> None:
        """A CA, the API server's serving cert (signed by it), and the service-account signing key."""
        self.pki.mkdir(parents=True, exist_ok=True)
        sans = ",".join(
            [
                "IP:127.0.0.1",
                "DNS:localhost",
                "IP:10.96.0.1",
                "DNS:kubernetes",
                "DNS:kubernetes.default",
                "DNS:kubernetes.default.svc",
                "DNS:kubernetes.default.svc.cluster.local",
            ]
        )
        ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
        (self.pki / "serving.ext").write_text(
            f"subjectAltName={sans}\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n",
            encoding="utf-8",
        )
        steps = [
            # EC keys: generation is instant, and every component accepts P-256.
            [
                "req",
                "-x509",
                *ec,
                "-keyout",
                "ca.key",
                "-out",
                "ca.crt",
                "-days",
                "3650",
                "-subj",
                "/CN=brook-e2e-ca",
            ],
            ["req", *ec, "-keyout", "apiserver.key", "-out", "apiserver.csr", "-subj", "/CN=kube-apiserver"],
            [
                "x509",
                "-req",
                "-in",
                "apiserver.csr",
                "-CA",
                "ca.crt",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-out",
                "apiserver.crt",
                "-days",
                "3650",
                "-extfile",
                "serving.ext",
            ],
            # Service-account tokens are signed with this key (ES256) and verified with its public half.
            ["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", "sa.key"],
            ["pkey", "-in", "sa.key", "-pubout", "-out", "sa.pub"],
        ]
        for step in steps:
            result = subprocess.run(
                ["openssl", *step], cwd=self.pki, capture_output=True, text=True, timeout=60, check=False
            )
            if result.returncode != 0:
                raise ClusterStartError(f"openssl {' '.join(step)}: {result.stderr.strip()}")
        (self.pki / "tokens.csv").write_text(f"{self.token},admin,admin,system:masters\n", encoding="utf-8")

    def _start_etcd(self, deadline: float) -> str:
        since = time.monotonic()
        client, peer = free_port(), free_port()
        client_url, peer_url = f"http://127.0.0.1:{client}", f"http://127.0.0.1:{peer}"
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
        self._remaining(deadline)
        self._wait_http(etcd, f"{client_url}/health", deadline)
        self._mark("etcd", since)
        return client_url

    def _start_apiserver(self, etcd_url: str, deadline: float) -> None:
        since = time.monotonic()
        self.apiserver_port = free_port()
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
                f"--tls-cert-file={self.pki / 'apiserver.crt'}",
                f"--tls-private-key-file={self.pki / 'apiserver.key'}",
                f"--client-ca-file={self.ca_file}",
                f"--token-auth-file={self.pki / 'tokens.csv'}",
                "--authorization-mode=Node,RBAC",
                f"--service-cluster-ip-range={SERVICE_CIDR}",
                "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
                f"--service-account-key-file={self.pki / 'sa.pub'}",
                f"--service-account-signing-key-file={self.pki / 'sa.key'}",
                "--allow-privileged=true",
                "--profiling=false",
                # Default admission plugins stay on (ServiceAccount, DefaultStorageClass, ...): the
                # operator must cope with what a real cluster does.
            ],
        )
        self._wait_http(apiserver, f"{self.server}/readyz", deadline, token=True)
        self._mark("kube-apiserver", since)

    def _write_kubeconfig(self) -> None:
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [
                {
                    "name": "brook-e2e",
                    "cluster": {"server": self.server, "certificate-authority": str(self.ca_file)},
                }
            ],
            "users": [{"name": "admin", "user": {"token": self.token}}],
            "contexts": [{"name": "brook-e2e", "context": {"cluster": "brook-e2e", "user": "admin"}}],
            "current-context": "brook-e2e",
        }
        # kubectl and client-go read JSON kubeconfigs (JSON is YAML).
        self.kubeconfig.write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
        self.kubeconfig.chmod(0o600)

    def _start_controllers(self, deadline: float) -> None:
        since = time.monotonic()
        kubeconfig = str(self.kubeconfig)
        kcm_port, scheduler_port, kwok_port = free_port(), free_port(), free_port()
        delegated = [
            f"--kubeconfig={kubeconfig}",
            f"--authentication-kubeconfig={kubeconfig}",
            f"--authorization-kubeconfig={kubeconfig}",
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
                f"--service-account-private-key-file={self.pki / 'sa.key'}",
                f"--root-ca-file={self.ca_file}",
                f"--cluster-signing-cert-file={self.ca_file}",
                f"--cluster-signing-key-file={self.pki / 'ca.key'}",
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
        kwok = self._launch(
            "kwok",
            [
                self.bin("kwok"),
                f"--kubeconfig={kubeconfig}",
                f"--config={KWOK_STAGES}",
                "--manage-all-nodes=false",
                f"--manage-nodes-with-annotation-selector={FAKE_NODE_ANNOTATION[0]}={FAKE_NODE_ANNOTATION[1]}",
                "--manage-nodes-with-label-selector=",
                f"--cidr={POD_CIDR}",
                "--node-lease-duration-seconds=40",
                f"--server-address=127.0.0.1:{kwok_port}",
                *(
                    [f"--v={os.environ['BROOK_E2E_KWOK_LOG']}"]
                    if os.environ.get("BROOK_E2E_KWOK_LOG")
                    else []
                ),
            ],
            env={**os.environ, "HOME": str(kwok_home)},
        )
        self._wait_http(kcm, f"https://127.0.0.1:{kcm_port}/healthz", deadline)
        self._wait_http(scheduler, f"https://127.0.0.1:{scheduler_port}/readyz", deadline)
        self._wait_http(kwok, f"http://127.0.0.1:{kwok_port}/healthz", deadline)
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


def ssl_context(ca_file: Path | None) -> Any:
    import ssl

    if ca_file is not None:
        return ssl.create_default_context(cafile=str(ca_file))
    # Controller-manager/scheduler health endpoints: loopback, self-signed, nothing secret.
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def node_schedulable(node: Mapping[str, Any]) -> bool:
    """Ready, and the node-lifecycle controller has removed its not-ready/uninitialized taints."""
    taints = node.get("spec", {}).get("taints") or []
    return is_condition_true(node, "Ready") and not taints


def start_control_plane(
    options: ClusterOptions | None = None, *, layout: Layout | None = None
) -> ControlPlane:
    """Start a control plane; on any failure everything already started is stopped again."""
    options = options or ClusterOptions()
    layout = layout or default_layout()
    missing = [name for name in required_binaries(options) if not layout.binary(name).is_file()]
    if missing:
        raise ClusterStartError(
            f"missing {', '.join(missing)} in {layout.bin_dir}: run `make e2e-infra` "
            "(builds them from the Go module proxy, about 30-60 min the first time)"
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
    except BaseException:
        # Keep the logs of a failed start: they are the only clue.
        plane.options = ClusterOptions(**{**_options_dict(options), "keep_work_dir": True})
        plane.stop()
        raise
    return plane


def _options_dict(options: ClusterOptions) -> dict[str, Any]:
    return {name: getattr(options, name) for name in ClusterOptions.__dataclass_fields__}


def required_binaries(options: ClusterOptions) -> list[str]:
    if options.api_only:
        return ["etcd", "kube-apiserver"]
    return ["etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok", "kubectl"]


@contextlib.contextmanager
def control_plane(options: ClusterOptions | None = None) -> Iterator[ControlPlane]:
    plane = start_control_plane(options)
    try:
        yield plane
    finally:
        plane.stop()


def describe(plane: ControlPlane) -> str:
    """One line per component for failure messages: where its log is."""
    return "\n".join(f"  {c.name}: {c.log}" for c in plane.components)


__all__ = [
    "FAKE_NODE_ANNOTATION",
    "READY_ANNOTATION",
    "STORAGE_CLASS",
    "ApiError",
    "ClusterOptions",
    "ClusterStartError",
    "ControlPlane",
    "control_plane",
    "start_control_plane",
]
