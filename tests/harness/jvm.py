"""JVM command lines for the reference Kafka: shared options, Log4j2 configs, and Kafka's CLI tools.

`kafka.py` (the broker) and `run_kafka_tool()` (the `bin/kafka-*.sh` equivalents) build their `java`
command lines here, so both run the same jars with the same base options. Benchmarks that want the
stock `kafka-server-start.sh` flags use `KAFKA_STOCK_JVM_OPTS` and a 1 GiB heap.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path

from harness.dist import KafkaDist, ensure_kafka_dist
from harness.processes import with_parent_death_signal

# Every JVM we start. No hsperfdata files in /tmp (nothing here uses jps/jstat), and die on OOM
# instead of limping on with a broken broker.
JVM_BASE_OPTS: tuple[str, ...] = (
    "-XX:-UsePerfData",
    "-XX:+ExitOnOutOfMemoryError",
    "-Djava.awt.headless=true",
    "-Dfile.encoding=UTF-8",
)

# kafka-run-class.sh's KAFKA_JVM_PERFORMANCE_OPTS for the broker and the perf tools: these are the
# flags Kafka is tuned and benchmarked with, so side-by-side numbers use them too.
KAFKA_STOCK_JVM_OPTS: tuple[str, ...] = (
    "-server",
    "-XX:+UseG1GC",
    "-XX:MaxGCPauseMillis=20",
    "-XX:InitiatingHeapOccupancyPercent=35",
    "-XX:+ExplicitGCInvokesConcurrent",
    "-XX:MaxInlineLevel=15",
)

# For brokers in functional tests: C1-only JIT. On a loaded 2-core machine a 3-node cluster is ready
# in about half the time of the stock flags (measured: ~7.5 s vs ~14 s); throughput is lower, so
# benchmarks must keep KAFKA_STOCK_JVM_OPTS (start_kafka's default).
FAST_START_JVM_OPTS: tuple[str, ...] = ("-XX:+UseG1GC", "-XX:TieredStopAtLevel=1")

# Short-lived admin tools (TopicCommand, ConfigCommand, ...): a C1-only JIT and the serial GC start
# faster and use less CPU, which matters on 2-core machines running tests in parallel.
QUICK_START_JVM_OPTS: tuple[str, ...] = ("-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC")

# Script name (as in Kafka's bin/) -> main class, for Kafka 4.x. Checked against the 4.3.1 jars.
KAFKA_TOOLS: Mapping[str, str] = {
    "kafka-storage": "kafka.tools.StorageTool",
    "kafka-configs": "kafka.admin.ConfigCommand",
    "kafka-topics": "org.apache.kafka.tools.TopicCommand",
    "kafka-console-producer": "org.apache.kafka.tools.ConsoleProducer",
    "kafka-console-consumer": "org.apache.kafka.tools.consumer.ConsoleConsumer",
    "kafka-console-share-consumer": "org.apache.kafka.tools.consumer.ConsoleShareConsumer",
    "kafka-get-offsets": "org.apache.kafka.tools.GetOffsetShell",
    "kafka-broker-api-versions": "org.apache.kafka.tools.BrokerApiVersionsCommand",
    "kafka-log-dirs": "org.apache.kafka.tools.LogDirsCommand",
    "kafka-consumer-groups": "org.apache.kafka.tools.consumer.group.ConsumerGroupCommand",
    "kafka-share-groups": "org.apache.kafka.tools.consumer.group.ShareGroupCommand",
    "kafka-streams-groups": "org.apache.kafka.tools.streams.StreamsGroupCommand",
    "kafka-groups": "org.apache.kafka.tools.GroupsCommand",
    "kafka-producer-perf-test": "org.apache.kafka.tools.ProducerPerformance",
    "kafka-consumer-perf-test": "org.apache.kafka.tools.ConsumerPerformance",
    "kafka-share-consumer-perf-test": "org.apache.kafka.tools.ShareConsumerPerformance",
    "kafka-e2e-latency": "org.apache.kafka.tools.EndToEndLatency",
    "kafka-verifiable-producer": "org.apache.kafka.tools.VerifiableProducer",
    "kafka-verifiable-consumer": "org.apache.kafka.tools.VerifiableConsumer",
    "kafka-verifiable-share-consumer": "org.apache.kafka.tools.VerifiableShareConsumer",
    "kafka-metadata-quorum": "org.apache.kafka.tools.MetadataQuorumCommand",
    "kafka-features": "org.apache.kafka.tools.FeatureCommand",
    "kafka-transactions": "org.apache.kafka.tools.TransactionsCommand",
    "kafka-acls": "org.apache.kafka.tools.AclCommand",
    "kafka-delete-records": "org.apache.kafka.tools.DeleteRecordsCommand",
    "kafka-leader-election": "org.apache.kafka.tools.LeaderElectionCommand",
    "kafka-reassign-partitions": "org.apache.kafka.tools.reassign.ReassignPartitionsCommand",
    "kafka-cluster": "org.apache.kafka.tools.ClusterTool",
    "kafka-client-metrics": "org.apache.kafka.tools.ClientMetricsCommand",
    "kafka-delegation-tokens": "org.apache.kafka.tools.DelegationTokenCommand",
    "kafka-dump-log": "org.apache.kafka.tools.DumpLogSegments",
    "kafka-replica-verification": "org.apache.kafka.tools.ReplicaVerificationTool",
}

# Tools that measure throughput or latency get the broker's JIT/GC flags, not the quick-start ones.
PERF_TOOLS: frozenset[str] = frozenset(
    {
        "org.apache.kafka.tools.ProducerPerformance",
        "org.apache.kafka.tools.ConsumerPerformance",
        "org.apache.kafka.tools.ShareConsumerPerformance",
        "org.apache.kafka.tools.EndToEndLatency",
        "org.apache.kafka.tools.VerifiableProducer",
        "org.apache.kafka.tools.VerifiableConsumer",
    }
)

# Properties format, so Log4j2 needs no YAML/JSON parser on the classpath. `${sys:kafka.logs.dir}` is
# set per broker on the command line.
BROKER_LOG4J2 = """\
status = warn
name = brook-kafka-ref-broker
appender.file.type = File
appender.file.name = FILE
appender.file.fileName = ${sys:kafka.logs.dir}/server.log
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = info
rootLogger.appenderRef.file.ref = FILE
# As in Kafka's config/log4j2.yaml: the request log and the state-change log are noisy at INFO/TRACE.
logger.request.name = kafka.request.logger
logger.request.level = warn
logger.statechange.name = state.change.logger
logger.statechange.level = info
"""

# Like Kafka's tools-log4j2.yaml: warnings to stderr, so stdout carries only the tool's output.
TOOLS_LOG4J2 = """\
status = warn
name = brook-kafka-ref-tools
appender.err.type = Console
appender.err.name = STDERR
appender.err.target = SYSTEM_ERR
appender.err.layout.type = PatternLayout
appender.err.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = warn
rootLogger.appenderRef.err.ref = STDERR
"""

_config_lock = threading.Lock()


def write_if_changed(path: Path, content: str) -> Path:
    """Write `content` atomically unless the file already holds it (concurrent workers share it)."""
    try:
        if path.read_text(encoding="utf-8") == content:
            return path
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}")
    tmp.write_text(content, encoding="utf-8")
    tmp.replace(path)
    return path


def log4j2_config(dist: KafkaDist, *, broker: bool) -> Path:
    name = "broker-log4j2.properties" if broker else "tools-log4j2.properties"
    with _config_lock:
        return write_if_changed(dist.config_dir / name, BROKER_LOG4J2 if broker else TOOLS_LOG4J2)


def java_executable() -> str:
    java_home = os.environ.get("JAVA_HOME")
    if java_home and (Path(java_home) / "bin" / "java").exists():
        return str(Path(java_home) / "bin" / "java")
    return shutil.which("java") or "java"


def java_command(
    dist: KafkaDist,
    main_class: str,
    args: Sequence[str],
    *,
    heap: str,
    jvm_opts: Sequence[str],
    log4j2: Path,
    system_properties: Mapping[str, str] | None = None,
) -> list[str]:
    """`java <opts> -cp libs/* <main_class> <args>`, the one shape every JVM here is started with."""
    props = [f"-D{key}={value}" for key, value in (system_properties or {}).items()]
    return [
        java_executable(),
        f"-Xmx{heap}",
        *JVM_BASE_OPTS,
        *jvm_opts,
        f"-Dlog4j2.configurationFile={log4j2}",
        *props,
        "-cp",
        dist.classpath,
        main_class,
        *args,
    ]


def resolve_tool(tool: str) -> str:
    """Map `kafka-topics`, `kafka-topics.sh` or a fully qualified class name to the main class."""
    name = tool.removesuffix(".sh")
    if name in KAFKA_TOOLS:
        return KAFKA_TOOLS[name]
    if "." in name:
        return name
    raise ValueError(f"unknown Kafka tool {tool!r}; known: {', '.join(sorted(KAFKA_TOOLS))}")


def run_kafka_tool(
    tool: str,
    args: Sequence[str],
    *,
    timeout: float = 120.0,
    check: bool = False,
    stdin: str | None = None,
    heap: str | None = None,
    jvm_opts: Sequence[str] | None = None,
    env: Mapping[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run one of Kafka's CLI tools from the reference jars, like `bin/<tool>.sh <args>`.

    `tool` is a script name (`kafka-topics`, `kafka-topics.sh`) or a main class. The process is
    killed when `timeout` passes (subprocess raises TimeoutExpired) and, via the parent-death signal,
    when the test process dies. With `check`, a non-zero exit raises CalledProcessError, whose
    message the caller can enrich with `.stderr`.
    """
    main_class = resolve_tool(tool)
    dist = ensure_kafka_dist()
    perf = main_class in PERF_TOOLS
    command = java_command(
        dist,
        main_class,
        args,
        heap=heap or ("1g" if perf else "256m"),
        jvm_opts=jvm_opts
        if jvm_opts is not None
        else (KAFKA_STOCK_JVM_OPTS if perf else QUICK_START_JVM_OPTS),
        log4j2=log4j2_config(dist, broker=False),
    )
    return subprocess.run(
        with_parent_death_signal(command),
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=check,
        env={**os.environ, **env} if env is not None else None,
        stdin=subprocess.DEVNULL if stdin is None else None,
    )
