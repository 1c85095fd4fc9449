"""Where the broker's time goes: py-spy profiles of Brook under produce and under consume load.

``python -m bench.profile`` (``make bench-profile``) starts one Brook broker, drives it with one
librdkafka client per scenario, and samples the broker process with py-spy:

- ``produce-1k``: 1 KiB records, acks=1, linger.ms=10, batch.size=1 MiB, 6 partitions;
- ``produce-100``: the same with 100 B records;
- ``consume-1k``: one consumer re-reading a 6-partition topic of 1 KiB records from offset 0.

Per scenario the load first runs unobserved (its throughput and the broker's user/system CPU
are the reference), then py-spy samples it twice, without stopping the broker
(``--nonblocking``): once every thread that is not idle, once only the thread holding the GIL
(``--gil``). The first view is wall time: it includes time blocked in a system call (a
``writev`` into the page cache, ``sendfile``) and time spent waiting for a CPU. The second is
the broker's Python CPU time, since those system calls release the GIL. A thread waiting in
epoll is idle and not sampled, so non-idle samples over rate x duration is how busy the
event loop was.

py-spy is not a project dependency: it runs through ``uv tool run py-spy`` (an ephemeral tool
environment; ``$UV`` or ``uv`` on PATH) or a ``py-spy`` already on PATH, and attaches to the
broker by pid, so the broker needs no hook. Raw collapsed stacks go to bench/results/ (for
flame graphs: ``flamegraph.pl`` or speedscope).
"""

from __future__ import annotations

import argparse
import collections
import dataclasses
import os
import re
import shutil
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from confluent_kafka import OFFSET_BEGINNING, Consumer, Producer, TopicPartition

from bench import REPO_ROOT
from bench.brokers import (
    RunningBroker,
    create_topic,
    production_environment,
    start_broker,
    use_broker_snapshot,
)
from bench.cpu_profile import CpuProfile, run_scenario
from bench.cpu_profile import table_rows as cpu_table_rows
from bench.docs import DOCS_PATH, SKELETON
from bench.loads import ProducerSettings, produce_librdkafka
from bench.procfs import cpu_times, load_average
from bench.results import markdown_table, print_table, replace_section

RESULTS_DIR = REPO_ROOT / "bench" / "results"
PARTITIONS = 6

# A sample is charged to the first stage (in this order) with a matching frame anywhere in its
# stack. The order runs from the most specific work to the most general, so CRC work inside
# the produce handler counts as validation, not as "handler, other". Markers match py-spy's
# frame text, ``function (package/file.py)``.
STAGES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("log read (fetch: index lookup, batch scan, slices)", ("UnifiedLog.read (",)),
    ("validation + CRC-32C (log/validator, protocol/records)", ("log/validator.py", "protocol/records.py")),
    (
        "producer state, leader epoch, checkpoints",
        ("producer_state.py", "producer_entry.py", "leader_epoch.py", "log/checkpoint.py"),
    ),
    (
        "log append (segment write, indexes)",
        ("UnifiedLog._append (", "LocalLog.append (", "LogSegment.append (", "LogFile.append ("),
    ),
    ("purgatory (acks=all, long-poll fetch)", ("replication/purgatory.py",)),
    ("request decode (kio, request guard)", ("decode_request (", "request_guard.py")),
    ("response encode (kio, fetch_response)", ("encode_response (", "protocol/fetch_response.py")),
    (
        "response build (kio entities, version adapt)",
        ("adapt (", "_partition_response (", "timestamp_from_ms ("),
    ),
    ("send (transport.write, sendfile, pread)", ("KafkaConnection._send (", "KafkaConnection._send_slice (")),
    ("produce/fetch handler, other", ("handle_produce (", "handle_fetch (")),
    ("dispatch (header peek, routing)", ("Dispatcher.handle (",)),
    ("connection worker (queue, await)", ("KafkaConnection._work (",)),
    (
        "framing (socket buffer, frame split)",
        ("KafkaConnection.buffer_updated (", "KafkaConnection.get_buffer ("),
    ),
    ("other broker code (timers, metadata, ...)", ("brook_broker/",)),
)
EVENT_LOOP = "event loop: uvloop's C code (socket I/O, callbacks), no broker frame"
_LINE = re.compile(r":\d+\)")


@dataclasses.dataclass
class Window:
    """What the load achieved over one time window, and the broker's CPU in it."""

    records: int
    record_size: int
    seconds: float
    user_s: float
    system_s: float

    def describe(self) -> str:
        rate = self.records / self.seconds
        user, system = 100 * self.user_s / self.seconds, 100 * self.system_s / self.seconds
        return (
            f"{rate:,.0f} records/s, {rate * self.record_size / 1e6:,.1f} MB/s; broker CPU "
            f"{user + system:.0f}% of one core (user {user:.0f}%, system {system:.0f}%)"
        )


_ROOT = "Runner.run (asyncio/runners.py)"


@dataclasses.dataclass
class Stacks:
    """Collapsed stacks from py-spy's raw output: the frames below the event loop, with counts.

    Frames are ``function (package/file.py)`` (line numbers dropped, so one function is one
    entry), from the outermost frame under ``asyncio.Runner.run`` down to the sampled one. An
    empty stack is a sample in uvloop's own C code (socket reads and writes, callbacks).
    """

    counts: dict[tuple[str, ...], int]

    @classmethod
    def read(cls, path: Path) -> Stacks:
        counts: collections.Counter[tuple[str, ...]] = collections.Counter()
        for line in path.read_text().splitlines():
            stack, _, count = line.rpartition(" ")
            if not stack or not count.isdigit():
                continue
            frames = [_LINE.sub(")", frame) for frame in stack.split(";")]
            if _ROOT in frames:
                frames = frames[frames.index(_ROOT) + 1 :]
            counts[tuple(frames)] += int(count)
        return cls(dict(counts))

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def self_time(self) -> collections.Counter[str]:
        counts: collections.Counter[str] = collections.Counter()
        for frames, count in self.counts.items():
            counts[frames[-1] if frames else _ROOT] += count
        return counts

    def inclusive_time(self) -> collections.Counter[str]:
        counts: collections.Counter[str] = collections.Counter()
        for frames, count in self.counts.items():
            for frame in set(frames) or {_ROOT}:
                counts[frame] += count
        return counts

    def stages(self) -> collections.Counter[str]:
        counts: collections.Counter[str] = collections.Counter()
        for frames, count in self.counts.items():
            counts[_stage(frames)] += count
        return counts


@dataclasses.dataclass
class Profile:
    name: str
    rate: int
    seconds: float
    baseline: Window
    sampled: Window
    active: Stacks  # every non-idle sample
    gil: Stacks  # samples of the thread holding the GIL


def _stage(frames: Sequence[str]) -> str:
    for stage, markers in STAGES:
        if any(marker in frame for frame in frames for marker in markers):
            return stage
    return EVENT_LOOP


# --- loads that run until told to stop ---------------------------------------------------------


def _produce_until(
    bootstrap: str, topic: str, *, record_size: int, stop: threading.Event, counter: list[int]
) -> None:
    settings = ProducerSettings(record_size=record_size, acks="1")
    producer = Producer(settings.librdkafka(bootstrap))
    value = os.urandom(record_size)
    produce, poll = producer.produce, producer.poll
    while not stop.is_set():
        for _ in range(1000):
            try:
                produce(topic, value)
            except BufferError:
                poll(0.001)
                continue
            counter[0] += 1
        poll(0)
    producer.flush(60)


def _consume_until(
    bootstrap: str, topic: str, *, stop: threading.Event, counter: list[int], records: int
) -> None:
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"profile-{uuid.uuid4().hex[:8]}",
            "enable.auto.commit": False,
        }
    )
    try:
        while not stop.is_set():
            consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in range(PARTITIONS)])
            seen = 0
            while seen < records and not stop.is_set():
                seen += len(consumer.consume(10_000, 0.5))
            counter[0] += seen
            consumer.unassign()
    finally:
        consumer.close()


# --- py-spy ---------------------------------------------------------------------------------------


def py_spy_command() -> list[str]:
    """How to run py-spy without making it a project dependency."""
    if found := shutil.which("py-spy"):
        return [found]
    uv = os.environ.get("UV") or shutil.which("uv")
    if uv is None:
        cached = sorted(Path.home().glob(".cache/brook/uv-*/bin/uv"))
        uv = str(cached[-1]) if cached else None
    if uv is None:
        raise SystemExit("py-spy needs uv (uv tool run py-spy) or py-spy on PATH")
    return [uv, "tool", "run", "py-spy"]


class _Window:
    """Measures records done by the load and the broker's CPU between enter and exit."""

    def __init__(self, broker_pid: int, counter: list[int], record_size: int) -> None:
        self.broker_pid, self.counter, self.record_size = broker_pid, counter, record_size
        self.result: Window | None = None

    def __enter__(self) -> _Window:
        self._start = (self.counter[0], cpu_times(self.broker_pid), time.perf_counter())
        return self

    def __exit__(self, *exc: object) -> None:
        records, (user, system), started = self._start
        user_now, system_now = cpu_times(self.broker_pid)
        self.result = Window(
            records=self.counter[0] - records,
            record_size=self.record_size,
            seconds=time.perf_counter() - started,
            user_s=user_now - user,
            system_s=system_now - system,
        )


def _py_spy(pid: int, *, rate: int, seconds: float, output: Path, extra: Sequence[str]) -> Stacks:
    command = [
        *py_spy_command(),
        "record",
        "--pid",
        str(pid),
        "--rate",
        str(rate),
        "--duration",
        str(int(seconds)),
        "--format",
        "raw",
        "--output",
        str(output),
        *extra,
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 120, check=False)
    if result.returncode != 0 or not output.exists():
        raise SystemExit(f"py-spy failed ({result.returncode}): {result.stderr.strip()[-1000:]}")
    return Stacks.read(output)


def record(
    broker: RunningBroker,
    *,
    name: str,
    load: Callable[[threading.Event, list[int]], None],
    record_size: int,
    seconds: float,
    rate: int,
    native: bool,
    out_dir: Path,
) -> Profile:
    """Run `load` on a thread: measure it alone for `seconds`, then sample it (non-idle, then GIL)."""
    stop = threading.Event()
    counter = [0]
    thread = threading.Thread(target=load, args=(stop, counter), name=f"load-{name}", daemon=True)
    thread.start()
    time.sleep(2.0)  # connections, metadata, first batches: not what we want to see
    # Reading the stacks without stopping the broker: stopping it a few hundred times a second
    # on a busy 2-core machine slows it down several times over. --native needs the stops.
    mode = ["--native"] if native else ["--nonblocking"]
    try:
        with _Window(broker.pid, counter, record_size) as baseline:
            time.sleep(seconds)
        with _Window(broker.pid, counter, record_size) as sampled:
            active = _py_spy(
                broker.pid, rate=rate, seconds=seconds, output=out_dir / f"profile-{name}.txt", extra=mode
            )
        gil = _py_spy(
            broker.pid,
            rate=rate,
            seconds=seconds,
            output=out_dir / f"profile-{name}-gil.txt",
            extra=[*mode, "--gil"],
        )
    finally:
        stop.set()
        thread.join(60)
    assert baseline.result is not None and sampled.result is not None
    return Profile(
        name=name,
        rate=rate,
        seconds=seconds,
        baseline=baseline.result,
        sampled=sampled.result,
        active=active,
        gil=gil,
    )


# --- report ---------------------------------------------------------------------------------------


def _pct(count: int, total: int) -> str:
    return f"{100 * count / total:.1f}" if total else "-"


def _short(frame: str) -> str:
    if frame == _ROOT:
        return "(uvloop C code: socket I/O, callbacks)"
    return frame.replace("brook_broker/", "")


def stage_rows(profile: Profile) -> list[list[str]]:
    active, gil = profile.active.stages(), profile.gil.stages()
    order = [stage for stage, _ in active.most_common()]
    order += [stage for stage, _ in gil.most_common() if stage not in order]
    return [
        [stage, _pct(active[stage], profile.active.total), _pct(gil[stage], profile.gil.total)]
        for stage in order
    ]


def own_rows(profile: Profile, *, limit: int) -> list[list[str]]:
    active, gil = profile.active.self_time(), profile.gil.self_time()
    order = [frame for frame, _ in active.most_common(limit)]
    order += [frame for frame, _ in gil.most_common(limit // 2) if frame not in order]
    return [
        [_short(frame), _pct(active[frame], profile.active.total), _pct(gil[frame], profile.gil.total)]
        for frame in order
    ]


def inclusive_rows(profile: Profile, *, limit: int) -> list[list[str]]:
    active, gil = profile.active.inclusive_time(), profile.gil.inclusive_time()
    return [
        [_short(frame), _pct(count, profile.active.total), _pct(gil[frame], profile.gil.total)]
        for frame, count in active.most_common(limit)
    ]


def summary(profile: Profile) -> str:
    busy = profile.active.total / (profile.rate * profile.seconds)
    held = profile.gil.total / (profile.rate * profile.seconds)
    return (
        f"**{profile.name}** without py-spy: {profile.baseline.describe()}. "
        f"While sampled: {profile.sampled.describe()}. "
        f"The event loop thread was not idle {100 * busy:.0f}% of the time and held the GIL "
        f"{100 * held:.0f}% of the time ({profile.active.total:,} and {profile.gil.total:,} samples "
        f"at {profile.rate} Hz over {profile.seconds:.0f} s each)."
    )


COLUMNS = ("% of non-idle samples (wall)", "% of GIL samples (Python CPU)")


CPU_COLUMNS = ("stage (nested)", "CPU µs per request", "% of the request")


def markdown(
    profiles: Iterable[Profile], cpu_profiles: Iterable[CpuProfile], *, command: str, top: int
) -> str:
    load = load_average()
    parts = [
        f"Command: `{command}`, {time.strftime('%Y-%m-%d %H:%M %Z')}; load average at the end "
        f"{load[0]:.2f} {load[1]:.2f} {load[2]:.2f} (shared 2-core VM). Two py-spy views per load: "
        "non-idle samples (wall time: includes system calls such as `writev`/`sendfile` and waiting "
        "for a CPU) and GIL-holding samples (the broker's Python CPU time). A stage is the first "
        "matching step of the request path in `bench/profile.py`'s STAGES; own = the function is "
        "on top of the stack; inclusive = anywhere on it.",
    ]
    for profile in profiles:
        parts += [
            "",
            f"#### {profile.name}",
            "",
            summary(profile),
            "",
            markdown_table(["stage", *COLUMNS], stage_rows(profile)),
            "",
            markdown_table(["top functions, own time", *COLUMNS], own_rows(profile, limit=top)),
            "",
            markdown_table(["top functions, inclusive time", *COLUMNS], inclusive_rows(profile, limit=top)),
        ]
    cpu_profiles = list(cpu_profiles)
    if cpu_profiles:
        parts += [
            "",
            "#### CPU per request (cProfile, thread CPU clock)",
            "",
            "The same scenarios with the broker's main thread under `cProfile.Profile(time.thread_time)` "
            "(`bench/cpu_profile.py`): CPU time, independent of how loaded the machine is, divided by the "
            "number of produce or fetch requests. cProfile inflates call-heavy Python code (kio's writer, "
            "adapters) by roughly 1.5-3x; C calls are close to real. Stages nest.",
        ]
        for cpu in cpu_profiles:
            parts += [
                "",
                f"**{cpu.name}**: {cpu.requests:,} requests ({cpu.throughput}).",
                "",
                markdown_table(list(CPU_COLUMNS), cpu_table_rows(cpu)),
            ]
    return "\n".join(parts)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.profile",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--seconds", type=float, default=10.0, help="seconds per window (3 per scenario)")
    parser.add_argument("--rate", type=int, default=200, help="py-spy samples per second")
    parser.add_argument(
        "--native", action="store_true", help="include C frames (stops the broker per sample)"
    )
    parser.add_argument(
        "--scenarios", default="produce-1k,produce-100,consume-1k", help="comma-separated subset"
    )
    parser.add_argument("--top", type=int, default=12, help="functions per table")
    parser.add_argument(
        "--no-cpu", dest="cpu", action="store_false", help="skip the cProfile CPU-per-request runs"
    )
    parser.add_argument(
        "--cpu-records",
        type=int,
        default=None,
        help="records per cProfile run (default 200,000; 1,000,000 of 100 B)",
    )
    parser.add_argument("--write-docs", action="store_true", help=f"update the profile block of {DOCS_PATH}")
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
    parser.add_argument("--work-dir", type=Path, default=None)
    return parser.parse_args(argv)


def _load_for(name: str, broker: RunningBroker) -> tuple[Callable[[threading.Event, list[int]], None], int]:
    """The load of a scenario and its record size (creating and, for consume, filling the topic)."""
    bootstrap = broker.bootstrap
    topic = f"profile-{name}"
    create_topic(bootstrap, topic, partitions=PARTITIONS)
    if name in ("produce-1k", "produce-100"):
        size = 1024 if name == "produce-1k" else 100

        def produce(stop: threading.Event, counter: list[int]) -> None:
            _produce_until(bootstrap, topic, record_size=size, stop=stop, counter=counter)

        return produce, size
    if name == "consume-1k":
        records = 300_000
        settings = ProducerSettings(record_size=1024, acks="1")
        produce_librdkafka(bootstrap, topic, records=records, settings=settings, broker_pid=broker.pid)

        def consume(stop: threading.Event, counter: list[int]) -> None:
            _consume_until(bootstrap, topic, stop=stop, counter=counter, records=records)

        return consume, 1024
    raise SystemExit(f"unknown scenario {name!r} (produce-1k, produce-100, consume-1k)")


def main(argv: list[str] | None = None) -> int:
    import sys

    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    command = " ".join(["python -m bench.profile", *argv])
    if args.production_env:
        production_environment()
    if args.broker_ref:
        print(f"Brook from commit {use_broker_snapshot(args.broker_ref)}")
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="brook-profile-", dir=args.work_dir))
    profiles: list[Profile] = []
    scenarios = [s.strip() for s in args.scenarios.split(",") if s.strip()]
    broker = start_broker("brook", work / "broker")
    try:
        print(f"Brook pid {broker.pid} on {broker.bootstrap}")
        for name in scenarios:
            load, size = _load_for(name, broker)
            print(f"profiling {name}: 3 x {args.seconds:.0f} s (load average {load_average()[0]:.2f})")
            profile = record(
                broker,
                name=name,
                load=load,
                record_size=size,
                seconds=args.seconds,
                rate=args.rate,
                native=args.native,
                out_dir=RESULTS_DIR,
            )
            profiles.append(profile)
            print(summary(profile).replace("**", ""))
            print_table(f"{name}: stages", ["stage", *COLUMNS], stage_rows(profile))
            print_table(f"{name}: own time", ["function", *COLUMNS], own_rows(profile, limit=args.top))
            print_table(
                f"{name}: inclusive time", ["function", *COLUMNS], inclusive_rows(profile, limit=args.top)
            )
    finally:
        broker.stop()
    cpu_profiles: list[CpuProfile] = []
    try:
        if args.cpu:
            for name in scenarios:
                print(f"CPU per request, {name}: broker under cProfile (thread CPU clock)")
                default = 1_000_000 if name == "produce-100" else 200_000
                cpu = run_scenario(name, records=args.cpu_records or default, work=work)
                cpu_profiles.append(cpu)
                print_table(
                    f"{name}: CPU per request ({cpu.requests} requests, {cpu.throughput})",
                    list(CPU_COLUMNS),
                    cpu_table_rows(cpu),
                )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"raw collapsed stacks in {RESULTS_DIR.relative_to(REPO_ROOT)}/profile-*.txt")
    if args.write_docs:
        replace_section(
            REPO_ROOT / DOCS_PATH,
            "profile",
            tool="python -m bench.profile --write-docs",
            body=markdown(profiles, cpu_profiles, command=command, top=args.top),
            skeleton=SKELETON,
        )
        print(f"updated {DOCS_PATH}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
