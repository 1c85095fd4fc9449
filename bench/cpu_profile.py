"""CPU microseconds per request, by stage: the broker under cProfile with a thread-CPU clock.

py-spy (`bench.profile`) shows where the event loop's *time* goes, which on a busy machine
mixes CPU with waiting. This module answers the other question, "how much CPU does one request
cost, and in which stage", independently of how loaded the machine is: it starts Brook under
``cProfile.Profile(time.thread_time)`` (a launcher passed to ``python -c``; the broker code is
unchanged), drives one scenario, stops the broker with SIGTERM so the profile is written, and
divides the cumulative CPU of the request path's functions by the number of requests.

cProfile adds a fixed cost to every Python call, so figures for call-heavy code (kio's
encoder, version adapters) are inflated, typically 1.5-3x; C calls (``writev``, ``crc32c``,
``sendfile``) are close to their real cost. Use the figures to rank stages, not as absolutes.
"""

from __future__ import annotations

import dataclasses
import pstats
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.brokers import create_topic
from bench.loads import ProducerSettings, consume_librdkafka, produce_librdkafka
from harness.brook import BrookProcess

LAUNCHER = """\
import cProfile, runpy, sys, time
out = sys.argv[1]
sys.argv = ["brook_broker", *sys.argv[2:]]
profiler = cProfile.Profile(time.thread_time)
try:
    profiler.runcall(runpy.run_module, "brook_broker", run_name="__main__", alter_sys=True)
except SystemExit:
    pass
finally:
    profiler.dump_stats(out)
"""


class ProfiledBrook(BrookProcess):
    """A Brook process whose main thread runs under cProfile with a thread-CPU clock."""

    def __init__(self, *, data_dir: Path, stats_path: Path) -> None:
        super().__init__(data_dir=data_dir, overrides={})
        self.stats_path = stats_path

    def command(self) -> list[str]:
        python, _dash_m, _module, *args = super().command()
        return [python, "-c", LAUNCHER, str(self.stats_path), *args]


#: (label, functions whose cumulative CPU makes the stage). A function is ``file.py:name`` or
#: ``<built-in method ...>`` as pstats stores it. Stages nest (decode is inside dispatch), so the
#: rows do not add up; "whole request" is the total.
PRODUCE_STAGES: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "whole request: framing + worker (dispatch, send)",
        ("connection.py:buffer_updated", "connection.py:_work"),
    ),
    ("  framing: buffer_updated/_parse_frames (frame buffer, copy)", ("connection.py:buffer_updated",)),
    ("  dispatch: decode, handle, adapt, encode", ("dispatcher.py:handle",)),
    ("    request decode (kio reader, request guard)", ("codec.py:decode_request",)),
    ("    handle_produce", ("produce.py:handle_produce",)),
    ("      validation + CRC-32C", ("validator.py:validate_and_assign_offsets",)),
    ("        of which crc32c", ("<built-in method crc32c._crc32c.crc32c>",)),
    ("      log append (UnifiedLog._append)", ("unified_log.py:_append",)),
    ("        of which os.writev", ("<built-in method posix.writev>",)),
    (
        "      high watermark + purgatory",
        ("partition.py:maybe_increment_high_watermark", "purgatory.py:notify"),
    ),
    ("      response entities (_partition_response)", ("produce.py:_partition_response",)),
    ("    version adapt (codec.adapt)", ("codec.py:adapt",)),
    ("    response encode (kio writer)", ("codec.py:encode_response",)),
    ("  send: transport.write", ("connection.py:_send",)),
)
# The consumer also sends ApiVersions, Metadata, ListOffsets and FindCoordinator on the same
# connection, so the shared path (dispatch, decode) is left out: the total is the fetch
# handler plus sending.
FETCH_STAGES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("fetch request: handle_fetch + send", ("fetch.py:handle_fetch", "connection.py:_send")),
    ("  handle_fetch", ("fetch.py:handle_fetch",)),
    ("    log read (index lookup, batch scan)", ("replica_manager.py:read",)),
    ("    long-poll wait bookkeeping", ("replica_manager.py:wait_for_data",)),
    ("    response framing (fetch_response)", ("fetch_response.py:encode_fetch_response",)),
    ("  send: header writes + record slices", ("connection.py:_send",)),
    ("    of which os.sendfile", ("<built-in method posix.sendfile>",)),
    ("    of which os.pread (when sendfile would block)", ("<built-in method posix.pread>",)),
)


@dataclasses.dataclass
class CpuProfile:
    name: str
    requests: int
    rows: list[tuple[str, float, float]]  # label, CPU us per request, % of the whole request
    throughput: str


def _cumulative(stats: dict[Any, Any], functions: Sequence[str]) -> float:
    total = 0.0
    for (path, _line, name), (_cc, _nc, _tt, cumtime, _callers) in stats.items():
        key = name if path == "~" else f"{Path(path).name}:{name}"
        if key in functions:
            total += cumtime
    return total


def _calls(stats: dict[Any, Any], function: str) -> int:
    return sum(
        ncalls
        for (path, _line, name), (_cc, ncalls, *_rest) in stats.items()
        if f"{Path(path).name}:{name}" == function
    )


def analyse(stats_path: Path, *, name: str, throughput: str, fetch: bool) -> CpuProfile:
    stats: dict[Any, Any] = pstats.Stats(str(stats_path)).stats  # type: ignore[attr-defined]
    stages = FETCH_STAGES if fetch else PRODUCE_STAGES
    requests = _calls(stats, "fetch.py:handle_fetch" if fetch else "produce.py:handle_produce")
    whole = _cumulative(stats, stages[0][1])
    rows = [
        (
            label,
            1e6 * _cumulative(stats, functions) / max(1, requests),
            100 * _cumulative(stats, functions) / whole,
        )
        for label, functions in stages
    ]
    return CpuProfile(name=name, requests=requests, rows=rows, throughput=throughput)


def run_scenario(name: str, *, records: int, work: Path) -> CpuProfile:
    """Start a profiled broker, run `name` (produce-1k, produce-100, consume-1k), stop it, analyse.

    For consume-1k the topic is written by an unprofiled broker first; the profiled one is then
    started on the same data directory, so its profile holds fetches only.
    """
    stats_path = work / f"{name}.pstats"
    data_dir = Path(tempfile.mkdtemp(prefix=f"{name}-", dir=work))
    size = 100 if name == "produce-100" else 1024
    settings = ProducerSettings(record_size=size, acks="1")
    if name == "consume-1k":
        writer = BrookProcess(data_dir=data_dir, overrides={}).start()
        try:
            create_topic(writer.bootstrap, "cpu", partitions=6)
            produce_librdkafka(
                writer.bootstrap, "cpu", records=records, settings=settings, broker_pid=writer.pid
            )
        finally:
            writer.stop()
    broker = ProfiledBrook(data_dir=data_dir, stats_path=stats_path)
    broker.start()
    try:
        if name == "consume-1k":
            result = consume_librdkafka(
                broker.bootstrap,
                "cpu",
                partitions=6,
                records=records,
                record_size=size,
                broker_pid=broker.pid,
            )
        else:
            create_topic(broker.bootstrap, "cpu", partitions=6)
            result = produce_librdkafka(
                broker.bootstrap, "cpu", records=records, settings=settings, broker_pid=broker.pid
            )
    finally:
        code = broker.stop()
    if code != 0 or not stats_path.exists():
        raise RuntimeError(f"profiled broker exited with {code} and no profile:\n{broker.log_tail()}")
    throughput = f"{result.mb_per_s:,.1f} MB/s under cProfile"
    return analyse(stats_path, name=name, throughput=throughput, fetch=name == "consume-1k")


def table_rows(profile: CpuProfile) -> list[list[str]]:
    return [[label, f"{per_request:,.0f}", f"{share:.0f}"] for label, per_request, share in profile.rows]
