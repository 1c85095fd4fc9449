"""Build the e2e control plane from the Go module proxy into ``$BROOK_CACHE/k8s-<version>/bin``.

Run by ``make e2e-infra`` (``python -m e2e.k8s_build``) and by the ``k8s_cluster`` fixture when a
binary is missing. Standard library only, so it runs before the project's virtualenv exists.

How each binary is made (the recipes are in ``shared/research/test_infra.md`` §1-2):

* kube-apiserver, kube-controller-manager, kube-scheduler, kubectl: ``go install k8s.io/kubernetes/
  cmd/...@vX`` is refused because k8s.io/kubernetes' go.mod has ``replace`` directives pointing at
  ``./staging``. A wrapper module of our own requires k8s.io/kubernetes and replaces every staging
  module with its published ``v0.<minor>.<patch>``; the list is read from the tag's own go.mod (via the
  proxy), so 1.36's two extra staging modules need no special case.
* etcd: go.etcd.io/etcd/server/v3 has replace directives too, but its requires already name the same
  tag, so a second, separate wrapper needs no replaces (kept apart so etcd's dependency versions do not
  leak into the k8s build graph, and vice versa).
* kwok, kwokctl, helm, kubeconform: plain ``go install pkg@version`` (no replaces in their go.mod).

Every binary has a stamp file holding its recipe (version, ldflags, Go version); a binary whose stamp
matches is not rebuilt, so a second run is a no-op. Build time and peak RSS of each ``go`` invocation
are measured (``os.wait4`` reports the maximum RSS over the whole process tree) and kept in
``build-report.json``. A component that fails is reported with its error and the others still build.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from e2e.versions import ALL_BINARIES, K8S_BINARIES, Layout, default_layout

# Bump when a recipe changes in a way the stamp key does not capture (forces rebuilds).
RECIPE_REVISION = 1

# A fixed build date keeps the binaries reproducible; nothing reads it.
BUILD_DATE = "1970-01-01T00:00:00Z"

STAGING_REPLACE = re.compile(r"^\s*(k8s\.io/[a-z0-9-]+)\s+=>\s+\./staging/", re.MULTILINE)
GO_DIRECTIVE = re.compile(r"^go\s+(\S+)\s*$", re.MULTILINE)
GODEBUG_LINE = re.compile(r"^godebug\s+.*$", re.MULTILINE)


class BuildError(RuntimeError):
    """A step failed; the message carries the command and the tail of its output."""


@dataclass(frozen=True, slots=True)
class Measured:
    """One build step: wall time and the peak RSS over the whole ``go`` process tree."""

    seconds: float
    max_rss_mib: float


@dataclass(slots=True)
class Outcome:
    name: str
    status: str  # "built" | "cached" | "failed"
    seconds: float = 0.0
    max_rss_mib: float = 0.0
    error: str = ""


def go_env(layout: Layout) -> dict[str, str]:
    """Environment for every ``go`` call: our caches, no toolchain downloads, static binaries."""
    env = dict(os.environ)
    env.update(
        GOMODCACHE=str(layout.go_dir / "mod"),
        GOCACHE=str(layout.go_dir / "build"),
        # The installed Go (1.26) is new enough for every module here; never fetch another toolchain.
        GOTOOLCHAIN="local",
        CGO_ENABLED="0",
        GOFLAGS="-buildvcs=false",
    )
    return env


def _tail(text: str, lines: int = 25) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


def run_measured(
    command: Sequence[str], *, cwd: Path, env: Mapping[str, str], log: Path, timeout: float
) -> Measured:
    """Run ``command`` at low priority, logging to ``log``; raise BuildError on failure or timeout.

    ``os.wait4`` is used instead of ``subprocess.run`` because its rusage covers the compile and link
    processes ``go`` forks (Linux reports the largest RSS of the reaped subtree).
    """
    started = time.monotonic()
    deadline = started + timeout
    with log.open("ab") as sink:
        sink.write(f"\n$ {' '.join(command)}\n".encode())
        sink.flush()
        process = subprocess.Popen(
            list(command),
            cwd=cwd,
            env=dict(env),
            stdout=sink,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            # The machine is shared with engineers running tests: builds are background work.
            preexec_fn=lambda: os.nice(10),  # noqa: PLW1509 - the build CLI runs no threads
            # Own process group, so a timeout or Ctrl-C can stop go's compile/link children too.
            start_new_session=True,
        )
        pid = 0
        try:
            while not pid and time.monotonic() < deadline:
                time.sleep(0.2)
                pid, wait_status, rusage = os.wait4(process.pid, os.WNOHANG)
        finally:
            if not pid:  # timed out, or interrupted (Ctrl-C)
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                os.wait4(process.pid, 0)
                process.returncode = -signal.SIGKILL
        if not pid:
            raise BuildError(f"timed out after {timeout:.0f}s: {' '.join(command)} (log: {log})")
    # wait4 reaped the child itself; tell Popen so that it does not try again.
    process.returncode = exit_code = os.waitstatus_to_exitcode(wait_status)
    elapsed = time.monotonic() - started
    if exit_code != 0:
        output = log.read_text(encoding="utf-8", errors="replace")
        last = output.rsplit("\n$ ", 1)[-1].partition("\n")[2]  # this command's output, without its line
        raise BuildError(f"exit {exit_code}: {' '.join(command)}\n{_tail(last)}")
    return Measured(seconds=elapsed, max_rss_mib=rusage.ru_maxrss / 1024)


def go_output(args: Sequence[str], *, cwd: Path, env: Mapping[str, str]) -> str:
    result = subprocess.run(
        ["go", *args], cwd=cwd, env=dict(env), capture_output=True, text=True, timeout=900, check=False
    )
    if result.returncode != 0:
        raise BuildError(f"go {' '.join(args)}: {_tail(result.stderr or result.stdout)}")
    return result.stdout


def module_gomod(module: str, version: str, *, cwd: Path, env: Mapping[str, str]) -> str:
    """A module's go.mod text, through the proxy (``go mod download -json`` reports the cached path)."""
    info = json.loads(go_output(["mod", "download", "-json", f"{module}@{version}"], cwd=cwd, env=env))
    if info.get("Error"):
        raise BuildError(f"go mod download {module}@{version}: {info['Error']}")
    return Path(info["GoMod"]).read_text(encoding="utf-8")


def k8s_wrapper_gomod(layout: Layout, k8s_gomod: str) -> str:
    """The wrapper go.mod: k8s' own go/godebug lines, the tools, and a replace per staging module."""
    versions = layout.versions
    staging = sorted(set(STAGING_REPLACE.findall(k8s_gomod)))
    if not staging:
        raise BuildError("found no './staging' replace directives in k8s.io/kubernetes' go.mod")
    go_match = GO_DIRECTIVE.search(k8s_gomod)
    go_line = go_match.group(1) if go_match else "1.26.0"
    # A dependency's godebug lines are ignored, so k8s' defaults must be restated in the main module.
    godebug = "\n".join(GODEBUG_LINE.findall(k8s_gomod))
    tools = "\n".join(f"\tk8s.io/kubernetes/cmd/{name}" for name in K8S_BINARIES)
    replaces = "\n".join(f"\t{module} => {module} v{versions.staging}" for module in staging)
    return (
        "// Generated by e2e/k8s_build.py: builds Kubernetes' commands outside their own module.\n"
        "module brook.invalid/k8sbin\n\n"
        f"go {go_line}\n\n{godebug}\n\n"
        f"tool (\n{tools}\n)\n\n"
        f"require k8s.io/kubernetes v{versions.k8s}\n\n"
        f"replace (\n{replaces}\n)\n"
    )


def etcd_wrapper_gomod(layout: Layout, etcd_gomod: str) -> str:
    go_match = GO_DIRECTIVE.search(etcd_gomod)
    go_line = go_match.group(1) if go_match else "1.26.0"
    return (
        "// Generated by e2e/k8s_build.py: builds etcd outside its own module (its go.mod has replaces).\n"
        "module brook.invalid/etcdbin\n\n"
        f"go {go_line}\n\n"
        "tool go.etcd.io/etcd/server/v3\n\n"
        f"require go.etcd.io/etcd/server/v3 v{layout.versions.etcd}\n"
    )


def prepare_module(directory: Path, gomod: str, *, env: Mapping[str, str], log: Path) -> Measured:
    """Write a wrapper go.mod and tidy it (downloads the dependency graph) unless it is unchanged."""
    directory.mkdir(parents=True, exist_ok=True)
    gomod_path = directory / "go.mod"
    tidy_stamp = directory / ".tidy"
    if gomod_path.is_file() and tidy_stamp.is_file() and tidy_stamp.read_text(encoding="utf-8") == gomod:
        return Measured(seconds=0.0, max_rss_mib=0.0)
    gomod_path.write_text(gomod, encoding="utf-8")
    (directory / "go.sum").unlink(missing_ok=True)
    measured = run_measured(["go", "mod", "tidy"], cwd=directory, env=env, log=log, timeout=3600)
    tidy_stamp.write_text(gomod, encoding="utf-8")
    return measured


def version_ldflags(version: str) -> list[str]:
    """``-X`` flags so ``--version`` reports the real release (kwokctl and kubectl parse it)."""
    major, minor = version.split(".")[:2]
    flags: list[str] = []
    for package in ("k8s.io/component-base/version", "k8s.io/client-go/pkg/version"):
        flags += [
            f"-X {package}.gitVersion=v{version}",
            f"-X {package}.gitMajor={major}",
            f"-X {package}.gitMinor={minor}",
            f"-X {package}.gitTreeState=clean",
            f"-X {package}.buildDate={BUILD_DATE}",
        ]
    return flags


@dataclass(frozen=True, slots=True)
class Recipe:
    """How one binary is built; ``key`` is what its stamp must contain for the binary to be reused."""

    name: str
    module: str  # "k8s" | "etcd" (a wrapper dir under src/) or "" for go install
    package: str  # import path (with @version for go install)
    ldflags: tuple[str, ...]

    def key(self, go_version: str) -> str:
        return json.dumps(
            {"rev": RECIPE_REVISION, "go": go_version, "package": self.package, "ldflags": self.ldflags},
            sort_keys=True,
        )


def recipes(layout: Layout) -> dict[str, Recipe]:
    v = layout.versions
    strip = ("-s", "-w")
    table = [
        Recipe("etcd", "etcd", "go.etcd.io/etcd/server/v3", strip),
        *(
            Recipe(name, "k8s", f"k8s.io/kubernetes/cmd/{name}", (*strip, *version_ldflags(v.k8s)))
            for name in K8S_BINARIES
        ),
        Recipe(
            "kwok",
            "",
            f"sigs.k8s.io/kwok/cmd/kwok@v{v.kwok}",
            (*strip, f"-X sigs.k8s.io/kwok/pkg/consts.KubeVersion={v.k8s}"),
        ),
        Recipe(
            "kwokctl",
            "",
            f"sigs.k8s.io/kwok/cmd/kwokctl@v{v.kwok}",
            (*strip, f"-X sigs.k8s.io/kwok/pkg/consts.KubeVersion={v.k8s}"),
        ),
        # Helm 4 derives its default .Capabilities.KubeVersion from the client-go version in the build
        # info, which `go install` keeps; only its own version string needs setting.
        Recipe(
            "helm",
            "",
            f"helm.sh/helm/v4/cmd/helm@v{v.helm}",
            (*strip, f"-X helm.sh/helm/v4/internal/version.version=v{v.helm}"),
        ),
        Recipe(
            "kubeconform",
            "",
            f"github.com/yannh/kubeconform/cmd/kubeconform@v{v.kubeconform}",
            (*strip, f"-X main.version=v{v.kubeconform}"),
        ),
    ]
    return {recipe.name: recipe for recipe in table}


def stamp_path(layout: Layout, name: str) -> Path:
    return layout.bin_dir / f".{name}.stamp"


def is_current(layout: Layout, recipe: Recipe, go_version: str) -> bool:
    stamp = stamp_path(layout, recipe.name)
    return (
        layout.binary(recipe.name).is_file()
        and stamp.is_file()
        and stamp.read_text(encoding="utf-8") == recipe.key(go_version)
    )


def build_one(layout: Layout, recipe: Recipe, *, env: Mapping[str, str], jobs: int, log: Path) -> Measured:
    """Build into a temporary name and rename, so an interrupted build never leaves a broken binary."""
    target = layout.binary(recipe.name)
    ldflags = " ".join(recipe.ldflags)
    common = ["-p", str(jobs), "-trimpath", "-ldflags", ldflags]
    if recipe.module:
        partial = target.with_name(f".{recipe.name}.partial")
        command = ["go", "build", *common, "-o", str(partial), recipe.package]
        measured = run_measured(command, cwd=layout.src_dir / recipe.module, env=env, log=log, timeout=5400)
        os.replace(partial, target)
        return measured
    # `go install pkg@version` (the only way to build outside a module) has no -o: install into an
    # empty GOBIN and move the one file it writes.
    with tempfile.TemporaryDirectory(dir=layout.bin_dir, prefix=".gobin-") as gobin:
        command = ["go", "install", *common, recipe.package]
        measured = run_measured(
            command, cwd=layout.bin_dir, env={**env, "GOBIN": gobin}, log=log, timeout=3600
        )
        (built,) = Path(gobin).iterdir()
        os.replace(built, target)
    return measured


def build(layout: Layout, *, only: Sequence[str] = (), jobs: int = 2, force: bool = False) -> list[Outcome]:
    """Build (or reuse) every binary; never raises for one component's failure."""
    layout.bin_dir.mkdir(parents=True, exist_ok=True)
    env = go_env(layout)
    go_version = go_output(["env", "GOVERSION"], cwd=layout.bin_dir, env=env).strip()
    log = layout.home / "build.log"
    wanted = [name for name in ALL_BINARIES if not only or name in only]
    table = recipes(layout)
    outcomes: list[Outcome] = []
    prepared: dict[str, Measured | BuildError] = {}

    for name in wanted:
        recipe = table[name]
        if not force and is_current(layout, recipe, go_version):
            outcomes.append(Outcome(name, "cached"))
            continue
        try:
            setup = Measured(0.0, 0.0)
            if recipe.module:
                if recipe.module not in prepared:
                    prepared[recipe.module] = _prepare(layout, recipe.module, env=env, log=log)
                state = prepared[recipe.module]
                if isinstance(state, BuildError):
                    raise state
                # The module download/tidy is charged to the first binary that needed it.
                setup, prepared[recipe.module] = state, Measured(0.0, 0.0)
            print(f"building {name} ...", file=sys.stderr, flush=True)
            measured = build_one(layout, recipe, env=env, jobs=jobs, log=log)
        except BuildError as error:
            outcomes.append(Outcome(name, "failed", error=str(error)))
            print(f"FAILED {name}: {error}", file=sys.stderr, flush=True)
            continue
        stamp_path(layout, name).write_text(recipe.key(go_version), encoding="utf-8")
        outcome = Outcome(
            name,
            "built",
            seconds=round(setup.seconds + measured.seconds, 1),
            max_rss_mib=round(max(setup.max_rss_mib, measured.max_rss_mib), 1),
        )
        outcomes.append(outcome)
        print(
            f"built {name} in {outcome.seconds:.0f}s (peak RSS {outcome.max_rss_mib:.0f} MiB)",
            file=sys.stderr,
            flush=True,
        )
    _write_report(layout, outcomes, go_version=go_version, jobs=jobs)
    return outcomes


def _prepare(layout: Layout, module: str, *, env: Mapping[str, str], log: Path) -> Measured | BuildError:
    v = layout.versions
    try:
        if module == "k8s":
            upstream = module_gomod("k8s.io/kubernetes", f"v{v.k8s}", cwd=layout.bin_dir, env=env)
            gomod = k8s_wrapper_gomod(layout, upstream)
        else:
            upstream = module_gomod("go.etcd.io/etcd/server/v3", f"v{v.etcd}", cwd=layout.bin_dir, env=env)
            gomod = etcd_wrapper_gomod(layout, upstream)
        print(f"resolving the {module} wrapper module ...", file=sys.stderr, flush=True)
        return prepare_module(layout.src_dir / module, gomod, env=env, log=log)
    except BuildError as error:
        return error


def _write_report(layout: Layout, outcomes: Sequence[Outcome], *, go_version: str, jobs: int) -> None:
    """Merge this run into build-report.json: the last real build of each binary is what is kept."""
    path = layout.home / "build-report.json"
    try:
        report = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        report = {}
    binaries = report.setdefault("binaries", {})
    for outcome in outcomes:
        if outcome.status != "cached":
            binaries[outcome.name] = {**asdict(outcome), "go": go_version, "jobs": jobs}
    report["versions"] = asdict(layout.versions)
    path.write_text(json.dumps(report, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m e2e.k8s_build", description=__doc__.split("\n")[0])
    parser.add_argument("--only", nargs="*", default=[], choices=ALL_BINARIES, help="build only these")
    parser.add_argument("--jobs", "-p", type=int, default=2, help="go build -p (default 2)")
    parser.add_argument("--force", action="store_true", help="rebuild even when the stamp matches")
    parser.add_argument("--no-schemas", action="store_true", help="skip the kubeconform schemas")
    args = parser.parse_args(argv)

    if shutil.which("go") is None:
        print("go is not on PATH (Go 1.26 is needed to build the e2e control plane)", file=sys.stderr)
        return 2
    layout = default_layout()
    outcomes = build(layout, only=args.only, jobs=args.jobs, force=args.force)
    failed = [outcome for outcome in outcomes if outcome.status == "failed"]

    if not args.no_schemas and not args.only:
        from e2e.schemas import ensure_schemas  # needs the binaries; imported late to keep this light

        try:
            ensure_schemas(layout)
        except Exception as error:  # noqa: BLE001 - report and keep the binaries usable
            print(f"FAILED schemas: {error}", file=sys.stderr)
            failed.append(Outcome("schemas", "failed", error=str(error)))

    for outcome in outcomes:
        detail = f"{outcome.seconds:.0f}s, {outcome.max_rss_mib:.0f} MiB" if outcome.status == "built" else ""
        print(f"  {outcome.name:<24} {outcome.status:<7} {detail}")
    print(f"binaries: {layout.bin_dir}")
    if failed:
        print(f"failed: {', '.join(outcome.name for outcome in failed)} (see {layout.home / 'build.log'})")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
