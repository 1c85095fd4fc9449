#!/usr/bin/env bash
# The kind-based e2e run (see README.md). Needs docker, kind, kubectl, helm. Not run on the project's machines.
set -euo pipefail
cd "$(dirname "$0")/../.."

CLUSTER=brook-e2e
VERSION=$(sed -n 's/^version = "\(.*\)"/\1/p' pyproject.toml)

for tool in docker kind kubectl helm; do
  command -v "$tool" >/dev/null || { echo "e2e/kind needs $tool on PATH" >&2; exit 2; }
done

cleanup() { [ "${BROOK_KIND_KEEP:-}" = 1 ] || kind delete cluster --name "$CLUSTER"; }
kind get clusters | grep -qx "$CLUSTER" || kind create cluster --name "$CLUSTER" --wait 120s
trap cleanup EXIT
kubectl config use-context "kind-$CLUSTER"

docker build --target broker -t "brook:$VERSION" .
docker build --target operator -t "brook-operator:$VERSION" .
kind load docker-image --name "$CLUSTER" "brook:$VERSION" "brook-operator:$VERSION"

helm upgrade --install brook charts/brook --namespace brook-system --create-namespace \
  --set image.pullPolicy=Never --wait --timeout 180s
kubectl apply --server-side -f crds/

.venv/bin/pytest e2e/kind -p no:xdist -v
