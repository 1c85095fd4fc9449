# The README's commands. CI (.ci/run) calls `make test`, so everything a fresh machine lacks is
# installed here: uv (from PyPI, into ~/.cache/brook), the Python environment, kcat (apt).

UV_VERSION := 0.13.9
CACHE      := $(HOME)/.cache/brook
UV         := $(or $(shell command -v uv 2>/dev/null),$(CACHE)/uv-$(UV_VERSION)/bin/uv)
PYTHON     ?= python3.11
SUDO       := $(if $(filter 0,$(shell id -u)),,sudo)

export UV_PYTHON_DOWNLOADS := never
export UV_PYTHON := $(PYTHON)

.PHONY: run test lint typecheck unit sync kcat clean bench help

help:
	@echo "make run    start a single-node Brook on 127.0.0.1:9092 (data in ./.brook)"
	@echo "make test   lint, type-check and run the whole test suite"
	@echo "make bench  Brook and Apache Kafka side by side, writes docs/benchmarks.md (~10-15 min)"
	@echo "make bench-quick    1-2 minute smoke run of the same (report in bench/results/)"
	@echo "make bench-brook    Brook alone: librdkafka/kcat throughput, RSS (python -m bench.throughput)"
	@echo "make bench-profile  py-spy profiles of the broker under produce and consume load"

$(CACHE)/uv-$(UV_VERSION)/bin/uv:
	$(PYTHON) -m pip install --quiet --disable-pip-version-check --target $(CACHE)/uv-$(UV_VERSION) uv==$(UV_VERSION)

.venv/.synced: pyproject.toml uv.lock | $(UV)
	$(UV) sync --frozen --quiet
	@touch $@

sync: .venv/.synced

kcat:
	@command -v kcat >/dev/null || { $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq kcat; }

run: sync
	$(UV) run --frozen brook broker start --config config/server.properties --override log.dirs=.brook

lint: sync
	$(UV) run --frozen ruff check .
	$(UV) run --frozen ruff format --check .

typecheck: sync
	$(UV) run --frozen mypy

# Reference Kafka and the e2e control plane are required in `make test`: a missing JVM, Maven
# or Go toolchain is an error, never a skip. Both are built once and cached in ~/.cache/brook.
test: sync kcat kafka-ref e2e-infra lint typecheck
	BROOK_KAFKA_REF_REQUIRED=1 BROOK_CACHE=$(CACHE) $(UV) run --frozen pytest -n 2 --dist loadgroup

# --- benchmarks (bench/, docs/benchmarks.md); not part of `make test` ---
# BENCH_ARGS passes options through, e.g. `make bench BENCH_ARGS="--max-load 1.5"`.
.PHONY: bench-quick bench-brook bench-profile iperf3

iperf3:
	@command -v iperf3 >/dev/null || { $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq iperf3; }

bench: sync kcat iperf3 kafka-ref
	$(UV) run --frozen python -m bench.side_by_side $(BENCH_ARGS)

bench-quick: sync kcat kafka-ref
	$(UV) run --frozen python -m bench.side_by_side --quick $(BENCH_ARGS)

bench-brook: sync kcat
	$(UV) run --frozen python -m bench.throughput $(BENCH_ARGS)

bench-profile: sync
	$(UV) run --frozen python -m bench.profile $(BENCH_ARGS)

clean:
	rm -rf .venv .brook .pytest_cache .mypy_cache .ruff_cache

# --- kafka-ref: reference Apache Kafka 4.x jars from Maven Central (tests/harness, bench) ---
# The version is pinned in tools/kafka-ref/VERSION only; tests/harness/dist.py runs Maven on
# tools/kafka-ref/pom.xml (the same step pytest runs when the jars are missing).
KAFKA_REF_VERSION := $(or $(BROOK_KAFKA_VERSION),$(shell cat tools/kafka-ref/VERSION))
KAFKA_REF_HOME    := $(CACHE)/kafka-$(KAFKA_REF_VERSION)
KAFKA_REF_STAMP   := $(KAFKA_REF_HOME)/libs/.complete

.PHONY: kafka-ref
kafka-ref: $(KAFKA_REF_STAMP)

$(KAFKA_REF_STAMP): tools/kafka-ref/VERSION tools/kafka-ref/pom.xml tests/harness/dist.py
	BROOK_CACHE=$(CACHE) $(PYTHON) tests/harness/dist.py
	@touch $@

# --- e2e: a real Kubernetes control plane built from the Go module proxy (e2e/README.md) ---
# Versions are pinned in e2e/versions.env only (included here, read by e2e/versions.py too).
# Binaries and offline kubeconform schemas go to ~/.cache/brook/k8s-<version>/; Go's caches to
# ~/.cache/brook/go. The first build takes tens of minutes on 2 cores; after that it is a no-op.
include e2e/versions.env
E2E_HOME  := $(CACHE)/k8s-$(K8S_VERSION)
E2E_STAMP := $(E2E_HOME)/.complete

.PHONY: e2e-infra e2e
e2e-infra: $(E2E_STAMP)

$(E2E_STAMP): e2e/versions.env e2e/k8s_build.py e2e/schemas.py
	BROOK_CACHE=$(CACHE) PYTHONPATH=tests $(PYTHON) -m e2e.k8s_build
	@touch $@

# One control plane for the whole session (~15-30 s to start); logs are kept when a test fails.
e2e: sync e2e-infra
	BROOK_CACHE=$(CACHE) $(UV) run --frozen pytest e2e
