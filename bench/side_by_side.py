"""Brook and Apache Kafka side by side on one machine; writes docs/benchmarks.md (``make bench``).

One invocation runs both systems in alternating rounds (Brook, Kafka, Brook, Kafka, ...), each
round on a freshly started single-node broker on loopback with default settings, and reports
per metric the median of each system and the ratio Brook/Kafka:

- start-up: seconds from process spawn to the first acknowledged produce (topic creation included);
- RSS after start-up, idle with a 100-partition topic, and the peak under load;
- produce throughput with Kafka's ProducerPerformance (Java) and with the librdkafka producer
  (confluent-kafka), 100 B and 1 KiB records, acks=1 and acks=all, into 6 partitions
  (linger.ms=10, batch.size=1 MiB, no compression);
- consume throughput with the librdkafka consumer (assign, no consumer group) for both systems,
  and Kafka's ConsumerPerformance where the broker serves consumer groups (Brook does not yet:
  reported as not available, never estimated);
- end-to-end latency p50/p99 at 1,000 records/s (100 B, timestamp in the payload, separate consumer);
- the machine's own limits for context: sequential writes with fdatasync, loopback TCP.

Every load reports the broker's and the client's CPU (% of one core) next to its throughput, so
a client-bound or machine-bound figure is visible as such. The 1-minute load average at the
start of each round is recorded: the benchmark machine may be shared.

``--quick`` is a 1-2 minute smoke run (1 round, small N); ``--systems brook --no-java`` runs
without a JVM (used by tests/bench).
"""

from __future__ import annotations

import argparse
import dataclasses
import shlex
import shutil
import statistics
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path

from confluent_kafka import KafkaException

from bench import REPO_ROOT
from bench.brokers import (
    KAFKA_HEAP,
    SYSTEM_NAMES,
    RunningBroker,
    System,
    create_topic,
    first_acknowledged_produce,
    production_environment,
    start_broker,
    use_broker_snapshot,
)
from bench.docs import DOCS_PATH, SKELETON
from bench.loads import (
    LatencyResult,
    LoadError,
    LoadResult,
    ProducerSettings,
    consume_java,
    consume_librdkafka,
    end_to_end_latency,
    produce_java,
    produce_librdkafka,
)
from bench.machine import describe, disk_write_mb_s, iperf3_mb_s, loopback_tcp_mb_s
from bench.procfs import MachineMeter, RssSampler, load_average, rss_bytes, wait_for_quiet
from bench.results import (
    Metric,
    Results,
    Sample,
    fmt,
    markdown_table,
    print_table,
    replace_section,
    runs_rows,
    summary_header,
    summary_rows,
)

MIB = 1 << 20
SIZES = (100, 1024)
ACKS = ("1", "all")
CLIENTS = {"java": "ProducerPerformance", "librdkafka": "librdkafka"}
#: Smoke runs must not overwrite the committed report; bench/results/ is git-ignored.
QUICK_OUTPUT = "bench/results/benchmarks-quick.md"


@dataclasses.dataclass(frozen=True, kw_only=True)
class Plan:
    systems: tuple[System, ...]
    rounds: int
    records: dict[str, dict[int, int]]  # client -> record size -> records per produce run
    partitions: int
    idle_partitions: int
    idle_wait_s: float
    warmup_records: int
    latency_rate: int
    latency_seconds: float
    java: bool
    max_load: float | None
    max_wait_s: float

    @property
    def producers(self) -> tuple[str, ...]:
        return ("java", "librdkafka") if self.java else ("librdkafka",)


def _size_label(size: int) -> str:
    return f"{size} B" if size < 1024 else f"{size // 1024} KiB"


def metrics() -> list[Metric]:
    out = [
        Metric(
            key=f"produce.{client}.{size}.{acks}",
            label=f"{client_label}, {_size_label(size)}, acks={acks}",
            unit="MB/s",
            group="produce",
        )
        for client, client_label in CLIENTS.items()
        for size in SIZES
        for acks in ACKS
    ]
    out += [
        Metric(
            key=f"consume.{client}.{size}",
            label=f"{label}, {_size_label(size)}",
            unit="MB/s",
            group="consume",
        )
        for client, label in (("librdkafka", "librdkafka"), ("java", "ConsumerPerformance"))
        for size in SIZES
    ]
    lat = {"higher_is_better": False, "digits": 2, "group": "latency"}
    out += [
        Metric(key="latency.p50", label="end-to-end p50 at 1,000 rec/s", unit="ms", **lat),  # type: ignore[arg-type]
        Metric(key="latency.p99", label="end-to-end p99 at 1,000 rec/s", unit="ms", **lat),  # type: ignore[arg-type]
    ]
    mem = {"higher_is_better": False, "digits": 0, "group": "memory"}
    out += [
        Metric(key="rss.start", label="RSS after start-up", unit="MiB", **mem),  # type: ignore[arg-type]
        Metric(key="rss.idle", label="RSS idle, 100 partitions", unit="MiB", **mem),  # type: ignore[arg-type]
        Metric(key="rss.load", label="RSS peak under load", unit="MiB", **mem),  # type: ignore[arg-type]
        Metric(
            key="startup.first_ack",
            label="process start → first acked produce",
            unit="s",
            higher_is_better=False,
            digits=2,
            group="start-up",
        ),
        Metric(
            key="startup.create100",
            label="create a 100-partition topic (until leaders are known)",
            unit="s",
            higher_is_better=False,
            digits=2,
            group="start-up",
        ),
    ]
    return out


@dataclasses.dataclass
class Failure:
    metric: str
    system: System
    round: int
    message: str


class Runner:
    """Runs the plan and fills `results`; a failed load is recorded as a failure, not a number."""

    def __init__(self, plan: Plan, work: Path) -> None:
        self.plan = plan
        self.work = work
        self.results = Results(metrics=metrics(), systems=list(plan.systems))
        self.failures: list[Failure] = []
        self.limits: dict[str, str] = {}
        self.waited_s = 0.0  # time spent waiting for a quieter machine (--max-load)

    def measure(self, key: str, system: System, rnd: int, action: Callable[[], Sample | None]) -> None:
        try:
            sample = action()
        except (LoadError, KafkaException, TimeoutError, OSError) as exc:
            message = f"{type(exc).__name__}: {exc}".splitlines()[0][:300]
            print(f"    {key}: FAILED {message}")
            self.failures.append(Failure(key, system, rnd, message))
            return
        if sample is not None:
            self.results.add(key, system, sample)

    def machine_limits(self) -> None:
        print("machine limits:")
        size_mib = 256 if self.plan.rounds == 1 else 1024
        disk = [disk_write_mb_s(self.work, size_mib=size_mib) for _ in range(3)]
        self.limits[f"sequential 1 MiB writes of {size_mib} MiB into the page cache (no sync)"] = _spread(
            [buffered for buffered, _ in disk]
        )
        self.limits["the same including one fdatasync at the end"] = _spread([durable for _, durable in disk])
        tcp = [loopback_tcp_mb_s(seconds=1.0) for _ in range(3)]
        self.limits["loopback TCP, one stream, Python sendall/recv_into (1 MiB)"] = _spread(tcp)
        iperf = iperf3_mb_s(seconds=3)
        if iperf is not None:
            self.limits["loopback TCP, one stream, iperf3 (3 s)"] = f"{iperf:,.0f} MB/s"
        for label, value in self.limits.items():
            print(f"  {label}: {value}")

    def run(self, *, limits: bool = True) -> None:
        if limits:
            self.machine_limits()
        for system in self.plan.systems:
            self.prime(system)
        for rnd in range(self.plan.rounds):
            for system in self.plan.systems:
                if self.plan.max_load is not None:
                    began = time.monotonic()
                    wait_for_quiet(max_load=self.plan.max_load, timeout_s=self.plan.max_wait_s)
                    self.waited_s += time.monotonic() - began
                self.round(system, rnd)

    def prime(self, system: System) -> None:
        """One start, produce and stop that is not measured: fills the page cache with the jars or
        modules and the bytecode cache, so that round 1 starts like the later ones."""
        broker = start_broker(system, self.work / f"{system}-prime")
        try:
            first_acknowledged_produce(broker)
        finally:
            broker.stop()
        print(f"primed {SYSTEM_NAMES[system]} (one start and produce, not counted)")

    def round(self, system: System, rnd: int) -> None:
        plan = self.plan
        load = load_average()
        self.results.load_averages[(rnd, system)] = load
        loads = " ".join(f"{v:.2f}" for v in load)
        print(f"round {rnd + 1}/{plan.rounds}: {SYSTEM_NAMES[system]} (load average {loads})")
        began_round = time.monotonic()
        broker = start_broker(system, self.work / f"{system}-{rnd}")
        machine = MachineMeter(broker.pid).__enter__()
        try:
            self.measure(
                "startup.first_ack",
                system,
                rnd,
                lambda: Sample(value=first_acknowledged_produce(broker), round=rnd),
            )
            for first_ack in self.results.values("startup.first_ack", system)[-1:]:
                print(f"  first acknowledged produce {first_ack:.2f} s after the process was spawned")
            time.sleep(1.0)
            self.results.add("rss.start", system, Sample(value=rss_bytes(broker.pid) / MIB, round=rnd))
            began = time.monotonic()
            create_topic(broker.bootstrap, "idle", partitions=plan.idle_partitions)
            self.results.add("startup.create100", system, Sample(value=time.monotonic() - began, round=rnd))
            time.sleep(plan.idle_wait_s)
            self.results.add("rss.idle", system, Sample(value=rss_bytes(broker.pid) / MIB, round=rnd))
            start, idle = (
                self.results.values("rss.start", system)[-1],
                self.results.values("rss.idle", system)[-1],
            )
            partitions = plan.idle_partitions
            print(f"  RSS {start:.0f} MiB after start-up, {idle:.0f} MiB with {partitions} idle partitions")
            with RssSampler(broker.pid) as rss:
                self.loads(broker, rnd)
            self.results.add("rss.load", system, Sample(value=rss.peak_bytes / MIB, round=rnd))
        finally:
            machine.stop()
            broker.stop()
        self.results.contention[(rnd, system)] = (machine.others_pct, machine.niced_pct, machine.steal_pct)
        print(
            f"  round took {time.monotonic() - began_round:.0f} s; "
            f"other processes used {machine.others_pct:.0f}% of the machine during it "
            f"(+{machine.niced_pct:.0f}% niced, {machine.steal_pct:.0f}% steal)"
        )

    def produce(self, broker: RunningBroker, rnd: int, *, client: str, size: int, acks: str) -> None:
        topic = f"produce-{client}-{size}-{acks}"
        create_topic(broker.bootstrap, topic, partitions=self.plan.partitions)
        produce = produce_java if client == "java" else produce_librdkafka

        def action() -> Sample:
            result = produce(
                broker.bootstrap,
                topic,
                records=self.plan.records[client][size],
                settings=ProducerSettings(record_size=size, acks=acks),
                broker_pid=broker.pid,
            )
            _print_load(f"produce {CLIENTS[client]} {_size_label(size)} acks={acks}", result)
            return _sample(result, rnd)

        self.measure(f"produce.{client}.{size}.{acks}", broker.system, rnd, action)

    def loads(self, broker: RunningBroker, rnd: int) -> None:
        plan, system, pid = self.plan, broker.system, broker.pid
        if plan.warmup_records:
            create_topic(broker.bootstrap, "warmup", partitions=plan.partitions)
            produce_librdkafka(
                broker.bootstrap,
                "warmup",
                records=plan.warmup_records,
                settings=ProducerSettings(record_size=1024, acks="1"),
                broker_pid=pid,
            )
        for size in SIZES:
            for acks in ACKS:
                for client in plan.producers:
                    self.produce(broker, rnd, client=client, size=size, acks=acks)
        for size in SIZES:
            topic = f"produce-librdkafka-{size}-1"
            records = plan.records["librdkafka"][size]

            def consume(topic: str = topic, records: int = records, size: int = size) -> Sample:
                result = consume_librdkafka(
                    broker.bootstrap,
                    topic,
                    partitions=plan.partitions,
                    records=records,
                    record_size=size,
                    broker_pid=pid,
                )
                _print_load(f"consume librdkafka {_size_label(size)}", result)
                return _sample(result, rnd)

            self.measure(f"consume.librdkafka.{size}", system, rnd, consume)
        if plan.java:
            if broker.serves_consumer_groups():
                for size in SIZES:
                    topic = f"produce-librdkafka-{size}-1"
                    records = plan.records["librdkafka"][size]

                    def consume_group(topic: str = topic, records: int = records, size: int = size) -> Sample:
                        result = consume_java(
                            broker.bootstrap, topic, records=records, record_size=size, broker_pid=pid
                        )
                        _print_load(f"consume ConsumerPerformance {_size_label(size)}", result)
                        return _sample(result, rnd)

                    self.measure(f"consume.java.{size}", system, rnd, consume_group)
            else:
                for size in SIZES:
                    self.results.mark_unavailable(
                        f"consume.java.{size}",
                        system,
                        f"{broker.name} does not serve consumer groups yet (no FindCoordinator/JoinGroup)",
                    )
        create_topic(broker.bootstrap, "latency", partitions=1)

        def latency() -> Sample:
            result = end_to_end_latency(
                broker.bootstrap, "latency", rate=plan.latency_rate, seconds=plan.latency_seconds
            )
            _print_latency(result)
            self.results.add("latency.p99", system, Sample(value=result.p99_ms, round=rnd))
            return Sample(value=result.p50_ms, round=rnd, note=f"max {result.max_ms:.1f} ms")

        self.measure("latency.p50", system, rnd, latency)


def _spread(values: list[float]) -> str:
    """``median MB/s (min-max)`` of repeated measurements."""
    return (
        f"{statistics.median(values):,.0f} MB/s ({min(values):,.0f}-{max(values):,.0f}, {len(values)} runs)"
    )


def _sample(result: LoadResult, rnd: int) -> Sample:
    return Sample(
        value=result.mb_per_s,
        round=rnd,
        records_per_s=result.records_per_s,
        broker_cpu_pct=result.broker_cpu_pct,
        client_cpu_pct=result.client_cpu_pct,
        note=result.note,
    )


def _print_load(label: str, result: LoadResult) -> None:
    cpu = f"CPU broker {result.broker_cpu_pct:3.0f}%, client {result.client_cpu_pct:3.0f}%"
    print(
        f"  {label:<40} {result.mb_per_s:7.1f} MB/s {result.records_per_s:>10,.0f} rec/s "
        f"({result.seconds:5.2f} s; {cpu})"
    )


def _print_latency(result: LatencyResult) -> None:
    print(
        f"  end-to-end latency at {result.rate} rec/s: p50 {result.p50_ms:.2f} ms, "
        f"p99 {result.p99_ms:.2f} ms, max {result.max_ms:.2f} ms ({result.samples} samples; "
        f"the consumer fetched {result.consumer_ready_s:.2f} s after the first probe)"
    )


# --- the report ----------------------------------------------------------------------------------


METHOD = """\
**These figures come from a shared 2-core VM** on which other engineers were running test
suites at the same time. Absolute numbers are noisy; the 1-minute load average at the start
of each round is listed below. Compare ratios within one run rather than numbers across runs.

- Command: `{command}` (via `make bench`), {when}, {minutes:.1f} min in total
  ({waited:.1f} min of it waiting for a quieter machine).
- Rounds: {rounds}, alternating {systems}; each round on a freshly started single-node broker
  (loopback, data on the disk below, default broker settings); the value shown is the median
  over rounds.
- Produce: per run {librdkafka_100:,} records of 100 B or {librdkafka_1k:,} of 1 KiB with
  librdkafka, {java_100:,} or {java_1k:,} with ProducerPerformance (the Java tool is slower
  on this machine; its runs are kept short), keyless, into a new {partitions}-partition topic
  (replication factor 1); every producer uses linger.ms=10, batch.size=1 MiB (1048576), no
  compression; acks as listed. One warm-up produce of {warmup:,} records of 1 KiB per round
  is not counted.
- Consume: the librdkafka consumer reads the librdkafka acks=1 topic of that size from
  offset 0 (assign, no consumer group, client defaults); ConsumerPerformance reads the same
  topic in a consumer group (its fetch-phase rate, `fetch.nMsg.sec`, without the group join).
- Latency: {rate:,} records/s of 100 B for {latency_s:.0f} s (the first second not counted),
  producer acks=1 and linger.ms=0, a separate consumer (own client and thread) from offset 0;
  the payload carries the CLOCK_MONOTONIC send time.
- CPU columns: CPU seconds over wall seconds of the measured phase, in % of one core, for the
  broker process (all threads) and the client (the Python process with librdkafka's threads,
  or the Java tool including its JVM start-up and JIT). 200 % is the whole machine.
- Apache Kafka runs with the stock kafka-server-start.sh JVM flags (G1, MaxGCPauseMillis=20)
  and a {heap} heap; Brook runs `python -m brook_broker broker start` on uvloop. Broker RSS is
  VmRSS from /proc (for the JVM: the heap as far as it has been touched, plus metaspace, JIT
  code and thread stacks).
- Before round 1 each system is started once and stopped, not measured (page cache of jars
  and modules, Brook's bytecode cache), so every round starts warm."""

PRODUCTION_NOTE = """\
- Brook runs as a production install would (`bench.brokers.production_environment`): with a
  bytecode cache (this machine sets PYTHONDONTWRITEBYTECODE) and without the dev-only
  hypothesis package, which kio imports when present (~1.5 s of cold start-up, ~9 MiB RSS)."""


def report(
    runner: Runner,
    *,
    machine: dict[str, str],
    command: str,
    started: float,
    elapsed_s: float,
    production_env: bool,
) -> str:
    plan, results = runner.plan, runner.results
    when = time.strftime("%Y-%m-%d %H:%M %Z", time.localtime(started))
    lines = [
        METHOD.format(
            command=command,
            when=when,
            minutes=elapsed_s / 60,
            waited=runner.waited_s / 60,
            rounds=plan.rounds,
            systems=", ".join(SYSTEM_NAMES[s] for s in plan.systems),
            librdkafka_100=plan.records["librdkafka"][100],
            librdkafka_1k=plan.records["librdkafka"][1024],
            java_100=plan.records["java"][100],
            java_1k=plan.records["java"][1024],
            partitions=plan.partitions,
            warmup=plan.warmup_records,
            rate=plan.latency_rate,
            latency_s=plan.latency_seconds,
            heap=KAFKA_HEAP,
        ),
        *([PRODUCTION_NOTE] if production_env else []),
        "",
        "### Machine",
        "",
        markdown_table(["", ""], [[k, v] for k, v in machine.items()]),
        "",
        "### Machine limits (context)",
        "",
        markdown_table(["what", "measured"], [[k, v] for k, v in runner.limits.items()]),
        "",
        "### Results",
        "",
        "Ratio Brook/Kafka: bold where Brook is at least as good "
        "(higher throughput, lower latency, memory and time).",
        "",
        markdown_table(summary_header(results), summary_rows(results)),
        "",
    ]
    reasons = sorted(
        {reason for (_, system), reason in results.unavailable.items() if not results.values(_, system)}
    )
    lines += [f"¹ not available: {reason}. No number is estimated for it." for reason in reasons]
    if reasons:
        lines.append("")
    loads = []
    for (rnd, system), load in sorted(results.load_averages.items()):
        others, niced, steal = results.contention.get((rnd, system), (0.0, 0.0, 0.0))
        loads.append(
            [
                str(rnd + 1),
                SYSTEM_NAMES[system],
                " ".join(f"{v:.2f}" for v in load),
                f"{others:.0f} %",
                f"{niced:.0f} %",
                f"{steal:.0f} %",
            ]
        )
    lines += [
        "### How busy the machine was",
        "",
        "Load average at the start of each round, and the share of the whole machine (both cores) that "
        "other processes used during it: not niced (competing with the benchmark as equals) and niced "
        "(yielding to it); steal is time the hypervisor gave to other guests.",
        "",
        markdown_table(
            ["round", "system", "load average (1, 5, 15 min)", "other processes", "niced processes", "steal"],
            loads,
        ),
        "",
        "<details><summary>Every run</summary>",
        "",
        markdown_table(["metric", "system", "values by round"], runs_rows(results)),
        "",
        "</details>",
    ]
    if runner.failures:
        lines += ["", "### Failed measurements (not counted)", ""]
        lines.append(
            markdown_table(
                ["metric", "system", "round", "error"],
                [[f.metric, SYSTEM_NAMES[f.system], str(f.round + 1), f.message] for f in runner.failures],
            )
        )
    return "\n".join(lines)


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.side_by_side",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--quick", action="store_true", help="smoke run: 1 round, small N (1-2 minutes)")
    parser.add_argument("--rounds", type=int, default=None, help="rounds per system (default 3; --quick: 1)")
    parser.add_argument("--systems", default="brook,kafka", help="comma-separated: brook, kafka")
    parser.add_argument("--no-limits", dest="limits", action="store_false", help="skip the disk/TCP limits")
    parser.add_argument("--no-java", dest="java", action="store_false", help="skip Kafka's Java perf tools")
    parser.add_argument("--scale", type=float, default=1.0, help="multiply every record count by this")
    parser.add_argument("--latency-seconds", type=float, default=None)
    parser.add_argument("--idle-wait", type=float, default=None, help="seconds idle before reading RSS")
    parser.add_argument(
        "--max-load", type=float, default=None, help="before each round wait for a lower load average"
    )
    parser.add_argument("--max-wait", type=float, default=180.0, help="longest wait for --max-load (seconds)")
    parser.add_argument(
        "--broker-ref",
        default=None,
        metavar="REF",
        help="run Brook from this commit (git archive snapshot) instead of the working tree",
    )
    parser.add_argument(
        "--dev-env",
        dest="production_env",
        action="store_false",
        help="run Brook as this checkout is set up (no bytecode cache, hypothesis importable)",
    )
    parser.add_argument(
        "--work-dir", type=Path, default=None, help="broker data goes here (default: $TMPDIR)"
    )
    parser.add_argument(
        "--output",
        type=Path,
        default=None,
        help=f"the markdown file to update (default {DOCS_PATH}; with --quick {QUICK_OUTPUT})",
    )
    parser.add_argument(
        "--no-write", dest="write", action="store_false", help="print only, do not update --output"
    )
    parser.add_argument("--json", type=Path, default=None, help="also write every sample as JSON here")
    return parser.parse_args(argv)


def plan_from(args: argparse.Namespace) -> Plan:
    systems: tuple[System, ...] = ()
    for name in (s.strip() for s in args.systems.split(",") if s.strip()):
        if name == "brook" or name == "kafka":
            systems += (name,)
        else:
            raise SystemExit(f"unknown system {name!r}: use brook and/or kafka")
    quick = args.quick
    if quick:
        counts = {"librdkafka": {100: 200_000, 1024: 60_000}, "java": {100: 100_000, 1024: 30_000}}
    else:
        counts = {"librdkafka": {100: 1_500_000, 1024: 600_000}, "java": {100: 500_000, 1024: 200_000}}
    records = {
        client: {size: max(100, int(n * args.scale)) for size, n in sizes.items()}
        for client, sizes in counts.items()
    }
    return Plan(
        systems=systems,
        rounds=args.rounds or (1 if quick else 3),
        records=records,
        partitions=6,
        idle_partitions=100,
        idle_wait_s=args.idle_wait if args.idle_wait is not None else (2.0 if quick else 3.0),
        warmup_records=max(100, int((10_000 if quick else 100_000) * args.scale)),
        latency_rate=1000,
        latency_seconds=args.latency_seconds or (3.0 if quick else 8.0),
        java=args.java,
        max_load=args.max_load,
        max_wait_s=args.max_wait,
    )


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    plan = plan_from(args)
    if args.production_env:
        production_environment()
    brook_commit = use_broker_snapshot(args.broker_ref) if args.broker_ref else None
    command = shlex.join(["python", "-m", "bench.side_by_side", *argv])
    started, began = time.time(), time.monotonic()
    work = Path(tempfile.mkdtemp(prefix="brook-bench-", dir=args.work_dir))
    runner = Runner(plan, work)
    try:
        machine = describe(work, brook_commit=brook_commit)
        print("\n".join(f"{k}: {v}" for k, v in machine.items()))
        runner.run(limits=args.limits)
    except KeyboardInterrupt:
        print("interrupted: no report written")
        return 130
    except Exception:
        traceback.print_exc()
        print("benchmark failed: no report written")
        return 1
    finally:
        shutil.rmtree(work, ignore_errors=True)
    elapsed = time.monotonic() - began
    print_table(
        "Brook and Apache Kafka side by side", summary_header(runner.results), summary_rows(runner.results)
    )
    for failure in runner.failures:
        where = f"{SYSTEM_NAMES[failure.system]} round {failure.round + 1}"
        print(f"failed: {failure.metric} on {where}: {failure.message}")
    if args.json is not None:
        args.json.write_text(runner.results.to_json())
    if args.write:
        output = args.output or REPO_ROOT / (QUICK_OUTPUT if args.quick else DOCS_PATH)
        body = report(
            runner,
            machine=machine,
            command=command,
            started=started,
            elapsed_s=elapsed,
            production_env=args.production_env,
        )
        replace_section(
            output, "side-by-side", tool="python -m bench.side_by_side", body=body, skeleton=SKELETON
        )
        print(f"wrote {output}")
    loads = ", ".join(fmt(load[0], 2) for load in runner.results.load_averages.values())
    print(f"total {elapsed / 60:.1f} min; 1-minute load average at the start of each round: {loads}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
