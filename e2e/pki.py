"""Per-cluster credentials for the e2e control plane, made with the ``openssl`` CLI.

``cluster`` calls ``write_pki`` once per control plane: a CA, the API server's serving certificate
signed by it (so clients verify TLS instead of skipping verification), the service-account signing
key pair, and the static admin token. EC P-256 keys throughout: generation is instant, and every
component accepts them (service-account tokens are then ES256).
"""

from __future__ import annotations

import json
import secrets
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from e2e.processes import ClusterStartError

# Names the serving certificate answers to: loopback, plus the in-cluster names of the API server.
SERVING_SANS = (
    "IP:127.0.0.1",
    "DNS:localhost",
    "IP:10.96.0.1",
    "DNS:kubernetes",
    "DNS:kubernetes.default",
    "DNS:kubernetes.default.svc",
    "DNS:kubernetes.default.svc.cluster.local",
)

_EC = "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes"
_STEPS = (
    f"req -x509 {_EC} -keyout ca.key -out ca.crt -days 3650 -subj /CN=brook-e2e-ca",
    f"req {_EC} -keyout apiserver.key -out apiserver.csr -subj /CN=kube-apiserver",
    "x509 -req -in apiserver.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out apiserver.crt"
    " -days 3650 -extfile serving.ext",
    "genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out sa.key",
    "pkey -in sa.key -pubout -out sa.pub",
)


@dataclass(frozen=True, slots=True)
class Pki:
    directory: Path
    token: str = field(default_factory=lambda: secrets.token_urlsafe(24))

    @property
    def ca_file(self) -> Path:
        return self.directory / "ca.crt"

    @property
    def ca_key(self) -> Path:
        return self.directory / "ca.key"

    @property
    def serving_cert(self) -> Path:
        return self.directory / "apiserver.crt"

    @property
    def serving_key(self) -> Path:
        return self.directory / "apiserver.key"

    @property
    def sa_key(self) -> Path:
        return self.directory / "sa.key"

    @property
    def sa_pub(self) -> Path:
        return self.directory / "sa.pub"

    @property
    def tokens_file(self) -> Path:
        return self.directory / "tokens.csv"


def write_pki(directory: Path) -> Pki:
    pki = Pki(directory)
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "serving.ext").write_text(
        f"subjectAltName={','.join(SERVING_SANS)}\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n",
        encoding="utf-8",
    )
    for step in _STEPS:
        result = subprocess.run(
            ["openssl", *step.split()], cwd=directory, capture_output=True, text=True, timeout=60, check=False
        )
        if result.returncode != 0:
            raise ClusterStartError(f"openssl {step}: {result.stderr.strip()}")
    # --token-auth-file: token,user,uid,"group". system:masters bypasses RBAC, like kubeadm's admin.
    pki.tokens_file.write_text(f"{pki.token},admin,admin,system:masters\n", encoding="utf-8")
    return pki


def kubeconfig(
    *, server: str, ca_file: Path, user: str, token: str, namespace: str | None = None
) -> dict[str, Any]:
    """A single-context kubeconfig (bearer token, the cluster CA). kubectl and client-go read JSON."""
    context: dict[str, str] = {"cluster": "brook-e2e", "user": user}
    if namespace:
        context["namespace"] = namespace
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {"name": "brook-e2e", "cluster": {"server": server, "certificate-authority": str(ca_file)}}
        ],
        "users": [{"name": user, "user": {"token": token}}],
        "contexts": [{"name": "brook-e2e", "context": context}],
        "current-context": "brook-e2e",
    }


def write_kubeconfig(path: Path, config: dict[str, Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
    path.chmod(0o600)
    return path
