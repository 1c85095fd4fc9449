"""The Apache Kafka distribution that the reference harness runs: jars resolved from Maven Central.

`ensure_kafka_dist()` makes sure `~/.cache/brook/kafka-<version>/libs/` holds the broker, the CLI tools
and a Log4j2 backend, running `mvn dependency:copy-dependencies` on `tools/kafka-ref/pom.xml` when they
are missing. `make kafka-ref` runs this file as a script, so the Makefile and pytest share one Maven
step. Only the standard library is used here, so the script runs before `.venv` exists.

Environment:
    BROOK_KAFKA_VERSION  use another Kafka version than the pin in tools/kafka-ref/VERSION
    BROOK_KAFKA_HOME     use this directory instead of ~/.cache/brook/kafka-<version>
    BROOK_CACHE          the cache root (default ~/.cache/brook)
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
TOOLS_DIR = REPO_ROOT / "tools" / "kafka-ref"
VERSION_FILE = TOOLS_DIR / "VERSION"
POM_FILE = TOOLS_DIR / "pom.xml"

# Pinned so that a Maven upgrade cannot change how the libs directory is laid out.
DEPENDENCY_PLUGIN = "org.apache.maven.plugins:maven-dependency-plugin:3.8.1"
MAVEN_TIMEOUT_S = 900.0

# Written last, after libs/ is complete; holds a hash of the inputs so a POM change re-resolves.
_STAMP = ".complete"


class KafkaDistError(RuntimeError):
    """The Kafka jars could not be resolved (Maven failed, or Java/Maven are not installed)."""


@dataclass(frozen=True)
class KafkaDist:
    """A resolved Kafka distribution: `libs` holds every jar of the runtime classpath."""

    version: str
    home: Path

    @property
    def libs(self) -> Path:
        return self.home / "libs"

    @property
    def classpath(self) -> str:
        # The JVM expands `dir/*` itself; this keeps command lines short (about 90 jars).
        return str(self.libs / "*")

    @property
    def config_dir(self) -> Path:
        return self.home / "config"


def kafka_version() -> str:
    """The Kafka version in use: the pin in tools/kafka-ref/VERSION unless BROOK_KAFKA_VERSION is set."""
    override = os.environ.get("BROOK_KAFKA_VERSION", "").strip()
    if override:
        return override
    return VERSION_FILE.read_text(encoding="utf-8").strip()


def dist_home(version: str) -> Path:
    explicit = os.environ.get("BROOK_KAFKA_HOME")
    if explicit:
        return Path(explicit)
    cache = Path(os.environ.get("BROOK_CACHE", Path.home() / ".cache" / "brook"))
    return cache / f"kafka-{version}"


def _inputs_digest(version: str) -> str:
    digest = hashlib.sha256()
    digest.update(version.encode())
    digest.update(POM_FILE.read_bytes())
    digest.update(DEPENDENCY_PLUGIN.encode())
    return digest.hexdigest()


def _is_complete(home: Path, digest: str) -> bool:
    stamp = home / "libs" / _STAMP
    try:
        return stamp.read_text(encoding="utf-8").strip() == digest
    except FileNotFoundError:
        return False


def ensure_kafka_dist(*, version: str | None = None, quiet: bool = True) -> KafkaDist:
    """Return the Kafka distribution, resolving its jars with Maven first if they are missing.

    With `quiet`, Maven's output is captured and shown only in the error; otherwise it goes to the
    terminal (`make kafka-ref`). Safe to call from several processes at once (pytest-xdist workers,
    `make` in another shell): an exclusive file lock serialises the Maven step, and libs/ appears by
    an atomic rename, so no caller ever sees a half-copied directory. A second call with the jars in
    place costs one file read.
    """
    version = version or kafka_version()
    home = dist_home(version)
    digest = _inputs_digest(version)
    dist = KafkaDist(version=version, home=home)
    if _is_complete(home, digest):
        return dist

    home.parent.mkdir(parents=True, exist_ok=True)
    lock_path = home.parent / f"kafka-{version}.lock"
    with lock_path.open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            # Another process may have finished the download while this one waited for the lock.
            if not _is_complete(home, digest):
                _resolve(version=version, home=home, digest=digest, quiet=quiet)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    return dist


def _resolve(*, version: str, home: Path, digest: str, quiet: bool) -> None:
    mvn = shutil.which("mvn")
    if mvn is None or shutil.which("java") is None:
        raise KafkaDistError("the reference Kafka needs `java` (17+) and `mvn` on PATH")
    home.mkdir(parents=True, exist_ok=True)
    staging = home / f"libs.tmp-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    command = [
        mvn,
        "-B",
        "-q",
        "-Dstyle.color=never",
        "-f",
        str(POM_FILE),
        f"-Dkafka.version={version}",
        f"{DEPENDENCY_PLUGIN}:copy-dependencies",
        "-DincludeScope=runtime",
        f"-DoutputDirectory={staging}",
    ]
    started = time.monotonic()
    try:
        # Maven's output never goes to our stdout, which carries only the libs path (see main()).
        result = subprocess.run(
            command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE if quiet else sys.stderr,
            stderr=subprocess.STDOUT if quiet else None,
            text=True,
            timeout=MAVEN_TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        shutil.rmtree(staging, ignore_errors=True)
        raise KafkaDistError(f"mvn did not finish within {MAVEN_TIMEOUT_S:.0f}s") from exc
    if result.returncode != 0 or not any(staging.glob("kafka_2.13-*.jar")):
        shutil.rmtree(staging, ignore_errors=True)
        # Maven 3.8 writes ANSI resets even in batch mode; keep the message readable.
        output = re.sub(r"\x1b\[[0-9;]*m", "", result.stdout or "(Maven's output is above)")[-4000:]
        raise KafkaDistError(f"resolving Kafka {version} with Maven failed:\n{output}")
    (staging / _STAMP).write_text(digest + "\n", encoding="utf-8")
    libs = home / "libs"
    # Replace an outdated libs/ (POM changed) in two renames; readers hold jars open, not the dir.
    if libs.exists():
        old = home / f"libs.old-{os.getpid()}"
        libs.rename(old)
        shutil.rmtree(old, ignore_errors=True)
    staging.rename(libs)
    elapsed = time.monotonic() - started
    print(f"kafka-ref: resolved Kafka {version} into {libs} in {elapsed:.1f}s", file=sys.stderr)


def main() -> int:
    try:
        dist = ensure_kafka_dist(quiet=False)
    except KafkaDistError as exc:
        print(f"kafka-ref: {exc}", file=sys.stderr)
        return 1
    print(dist.libs)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
