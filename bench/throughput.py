"""Brook alone: produce and consume throughput with one librdkafka client, and the broker's memory.

``python -m bench.throughput`` (``make bench-brook``) starts one Brook broker on loopback and:

1. reads its RSS right after start-up, then again after creating a 100-partition topic and idling;
2. warms up (one produce + consume pass that is not counted);
3. per run: produces N records of 1 KiB to a fresh 6-partition topic with one confluent-kafka
   (librdkafka) producer (linger.ms=10, batch.size=1 MiB, acks=1, no compression), then reads
   them back with one librdkafka consumer (assign + offset 0, no consumer group); the same
   load is also produced by kcat (librdkafka without Python in the loop) and, with ``--java``,
   by Kafka's ProducerPerformance, to show whether the Python client is the bottleneck;
4. prints the median of the runs, per client the broker's and the client's CPU (% of one
   core) and the peak RSS under load, against the targets below.

Targets (goals, not test assertions): produce >= 150 MB/s, consume >= 300 MB/s, RSS <= 100 MiB
idle with 100 partitions. ``--quick`` is a smoke run (1 run, small N); ``--write-docs``
replaces the Brook-alone block of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

from bench import REPO_ROOT
from bench.brokers import (
    RunningBroker,
    create_topic,
    production_environment,
    start_broker,
    use_broker_snapshot,
)
from bench.docs import DOCS_PATH, SKELETON
from bench.loads import (
    LoadResult,
    ProducerSettings,
    consume_librdkafka,
    kcat_available,
    payload_file,
    produce_java,
    produce_kcat,
    produce_librdkafka,
)
from bench.procfs import MachineMeter, RssSampler, load_average, rss_bytes, wait_for_quiet
from bench.results import Metric, Results, Sample, fmt, markdown_table, print_table, replace_section

MIB = 1 << 20
TARGETS: dict[str, tuple[float, str]] = {
    "produce.librdkafka": (150.0, ">="),
    "produce.kcat": (150.0, ">="),
    "produce.java": (150.0, ">="),
    "consume.librdkafka": (300.0, ">="),
    "rss.idle100": (100.0, "<="),
}


def metrics(record_size: int, idle_partitions: int) -> list[Metric]:
    size = f"{record_size} B" if record_size < 1024 else f"{record_size // 1024} KiB"
    return [
        Metric(key="produce.librdkafka", label=f"produce {size}, confluent-kafka (Python)", unit="MB/s"),
        Metric(key="produce.kcat", label=f"produce {size}, kcat -P -l", unit="MB/s"),
        Metric(key="produce.java", label=f"produce {size}, Kafka ProducerPerformance", unit="MB/s"),
        Metric(key="consume.librdkafka", label=f"consume {size}, confluent-kafka (Python)", unit="MB/s"),
        Metric(key="rss.start", label="RSS after start-up", unit="MiB", higher_is_better=False, digits=0),
        Metric(
            key="rss.idle100",
            label=f"RSS idle with {idle_partitions} partitions",
            unit="MiB",
            higher_is_better=False,
            digits=0,
        ),
        Metric(key="rss.load", label="RSS peak under load", unit="MiB", higher_is_better=False, digits=0),
    ]


def _sample(result: LoadResult, run: int) -> Sample:
    return Sample(
        value=result.mb_per_s,
        round=run,
        records_per_s=result.records_per_s,
        broker_cpu_pct=result.broker_cpu_pct,
        client_cpu_pct=result.client_cpu_pct,
    )


def _line(label: str, result: LoadResult) -> str:
    rate = f"{result.mb_per_s:7.1f} MB/s {result.records_per_s:>10,.0f} rec/s in {result.seconds:5.2f} s"
    cpu = f"CPU broker {result.broker_cpu_pct:4.0f}%  client {result.client_cpu_pct:4.0f}%"
    return f"    {label:<22} {rate}   {cpu}"


def run(args: argparse.Namespace) -> Results:
    results = Results(metrics=metrics(args.record_size, args.idle_partitions), systems=["brook"])
    settings = ProducerSettings(
        record_size=args.record_size, acks=args.acks, linger_ms=args.linger_ms, batch_size=args.batch_size
    )
    work = Path(tempfile.mkdtemp(prefix="brook-bench-", dir=args.work_dir))
    use_kcat = args.kcat and kcat_available()
    if args.kcat and not use_kcat:
        print("kcat is not installed: skipping the kcat producer (make kcat)")
    broker: RunningBroker | None = None
    try:
        payload = payload_file(work, records=args.records, record_size=args.record_size) if use_kcat else None
        broker = start_broker("brook", work / "broker")
        pid = broker.pid
        print(f"Brook pid {pid} on {broker.bootstrap}; data in {broker.work_dir}")
        time.sleep(1.0)
        results.add("rss.start", "brook", Sample(value=rss_bytes(pid) / MIB, round=0))
        create_topic(broker.bootstrap, "idle", partitions=args.idle_partitions)
        time.sleep(args.idle_wait)
        results.add("rss.idle100", "brook", Sample(value=rss_bytes(pid) / MIB, round=0))
        print(
            f"RSS after start-up {results.values('rss.start', 'brook')[0]:.0f} MiB, "
            f"with {args.idle_partitions} idle partitions {results.values('rss.idle100', 'brook')[0]:.0f} MiB"
        )
        with RssSampler(pid) as rss:
            if args.warmup:
                create_topic(broker.bootstrap, "warmup", partitions=args.partitions)
                warm = max(1000, args.records // 4)
                produce_librdkafka(
                    broker.bootstrap, "warmup", records=warm, settings=settings, broker_pid=pid
                )
                consume_librdkafka(
                    broker.bootstrap,
                    "warmup",
                    partitions=args.partitions,
                    records=warm,
                    record_size=args.record_size,
                    broker_pid=pid,
                )
                print(f"warm-up: {warm} records produced and consumed (not counted)")
            for index in range(args.runs):
                load = load_average()
                results.load_averages[(index, "brook")] = load
                print(f"run {index + 1}/{args.runs} (load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f})")
                machine = MachineMeter(pid).__enter__()
                topic = f"librdkafka-{index}"
                create_topic(broker.bootstrap, topic, partitions=args.partitions)
                produced = produce_librdkafka(
                    broker.bootstrap, topic, records=args.records, settings=settings, broker_pid=pid
                )
                results.add("produce.librdkafka", "brook", _sample(produced, index))
                print(_line("produce confluent-kafka", produced))
                consumed = consume_librdkafka(
                    broker.bootstrap,
                    topic,
                    partitions=args.partitions,
                    records=args.records,
                    record_size=args.record_size,
                    broker_pid=pid,
                )
                results.add("consume.librdkafka", "brook", _sample(consumed, index))
                print(_line("consume confluent-kafka", consumed))
                if payload is not None:
                    topic = f"kcat-{index}"
                    create_topic(broker.bootstrap, topic, partitions=args.partitions)
                    produced = produce_kcat(
                        broker.bootstrap,
                        topic,
                        payload=payload,
                        records=args.records,
                        settings=settings,
                        broker_pid=pid,
                    )
                    results.add("produce.kcat", "brook", _sample(produced, index))
                    print(_line("produce kcat", produced))
                if args.java:
                    topic = f"java-{index}"
                    create_topic(broker.bootstrap, topic, partitions=args.partitions)
                    produced = produce_java(
                        broker.bootstrap, topic, records=args.records, settings=settings, broker_pid=pid
                    )
                    results.add("produce.java", "brook", _sample(produced, index))
                    print(_line("produce ProducerPerf.", produced))
                machine.stop()
                results.contention[(index, "brook")] = (
                    machine.others_pct,
                    machine.niced_pct,
                    machine.steal_pct,
                )
                print(
                    f"    other processes used {machine.others_pct:.0f}% of the machine "
                    f"(+{machine.niced_pct:.0f}% niced, {machine.steal_pct:.0f}% steal)"
                )
        results.add("rss.load", "brook", Sample(value=rss.peak_bytes / MIB, round=0))
    finally:
        if broker is not None:
            broker.stop()
        shutil.rmtree(work, ignore_errors=True)
    return results


def table(results: Results) -> tuple[list[str], list[list[str]]]:
    header = ["metric", "unit", "median", "runs", "records/s", "CPU % broker / client", "target"]
    rows = []
    for metric in results.metrics:
        values = results.values(metric.key, "brook")
        if not values:
            continue
        median = results.median(metric.key, "brook")
        assert median is not None
        target = ""
        if metric.key in TARGETS:
            goal, op = TARGETS[metric.key]
            met = median >= goal if op == ">=" else median <= goal
            target = f"{op} {goal:.0f} {'met' if met else 'NOT met'}"
        rps = results.median_of(metric.key, "brook", "records_per_s")
        broker = results.median_of(metric.key, "brook", "broker_cpu_pct")
        client = results.median_of(metric.key, "brook", "client_cpu_pct")
        rows.append(
            [
                metric.label,
                metric.unit,
                fmt(median, metric.digits),
                ", ".join(fmt(v, metric.digits) for v in values),
                fmt(rps, 0) if rps is not None else "",
                f"{fmt(broker, 0)} / {fmt(client, 0)}" if broker is not None else "",
                target,
            ]
        )
    return header, rows


def docs_block(results: Results, args: argparse.Namespace, command: str) -> str:
    header, rows = table(results)
    loads = ", ".join(
        f"{load[0]:.2f} (others {results.contention.get(key, (0.0,))[0]:.0f} %)"
        for key, load in sorted(results.load_averages.items())
    )
    when = time.strftime("%Y-%m-%d %H:%M %Z")
    return "\n".join(
        [
            f"Command: `{command}`, {when}. {args.runs} runs after a warm-up, median shown;",
            f"{args.records:,} records of {args.record_size} B into {args.partitions} partitions per run;",
            f"producer linger.ms={args.linger_ms}, batch.size={args.batch_size}, acks={args.acks},",
            "no compression; consumer: librdkafka defaults, assign from offset 0, no consumer group.",
            "1-minute load average at the start of each run (and the share of the machine other, not",
            f"niced processes used during it): {loads}.",
            "",
            markdown_table(header, rows),
        ]
    )


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.throughput",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--records", type=int, default=600_000, help="records per run (default 600,000)")
    parser.add_argument("--record-size", type=int, default=1024)
    parser.add_argument("--partitions", type=int, default=6)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--acks", default="1", choices=["0", "1", "all"])
    parser.add_argument("--linger-ms", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=1 << 20)
    parser.add_argument("--idle-partitions", type=int, default=100)
    parser.add_argument("--idle-wait", type=float, default=5.0, help="seconds to idle before reading RSS")
    parser.add_argument("--no-warmup", dest="warmup", action="store_false")
    parser.add_argument("--no-kcat", dest="kcat", action="store_false", help="skip the kcat producer")
    parser.add_argument("--java", action="store_true", help="also produce with Kafka's ProducerPerformance")
    parser.add_argument("--quick", action="store_true", help="smoke run: 1 run of 20,000 records, no warm-up")
    parser.add_argument(
        "--max-load", type=float, default=None, help="wait until the load average is below this"
    )
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
        "--work-dir", type=Path, default=None, help="where broker data goes (default: $TMPDIR)"
    )
    parser.add_argument("--json", type=Path, default=None, help="write every sample as JSON here")
    parser.add_argument(
        "--write-docs", action="store_true", help=f"update the Brook-alone block of {DOCS_PATH}"
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.runs, args.warmup, args.idle_wait = 1, False, min(args.idle_wait, 1.0)
        if args.records == parser.get_default("records"):
            args.records = 20_000
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    command = "python -m bench.throughput " + " ".join(argv) if argv else "python -m bench.throughput"
    if args.production_env:
        production_environment()
    if args.broker_ref:
        print(f"Brook from commit {use_broker_snapshot(args.broker_ref)}")
    if args.max_load is not None:
        wait_for_quiet(max_load=args.max_load, timeout_s=600)
    results = run(args)
    header, rows = table(results)
    print_table("Brook alone", header, rows)
    if args.json is not None:
        args.json.write_text(results.to_json())
    if args.write_docs:
        replace_section(
            REPO_ROOT / DOCS_PATH,
            "brook-alone",
            tool="python -m bench.throughput --write-docs",
            body=docs_block(results, args, command),
            skeleton=SKELETON,
        )
        print(f"updated {DOCS_PATH}")
    return 0


if __name__ == "__main__":
    import sys

    raise SystemExit(main(sys.argv[1:]))
