"""Benchmark results: samples per metric and system, medians, ratios, and their tables.

A `Results` collects one `Sample` per metric, system and run (round). Reports show the median
per system and the ratio Brook/Kafka; every individual value stays in the JSON dump and in
the per-run table, with the load average at the start of its round. A metric a system cannot
run (ConsumerPerformance needs consumer groups) is recorded as unavailable with the reason,
never as a number.

`replace_section()` rewrites one generated block of docs/benchmarks.md, so the side-by-side
run, the Brook-only run and the profiler each own a part of the file.
"""

from __future__ import annotations

import dataclasses
import json
import statistics
from collections.abc import Iterable, Sequence
from pathlib import Path

from bench.brokers import SYSTEM_NAMES, System


@dataclasses.dataclass(frozen=True, kw_only=True)
class Metric:
    key: str
    label: str
    unit: str
    higher_is_better: bool = True
    digits: int = 1
    group: str = ""


@dataclasses.dataclass(frozen=True, kw_only=True)
class Sample:
    value: float
    round: int
    records_per_s: float | None = None
    broker_cpu_pct: float | None = None
    client_cpu_pct: float | None = None
    note: str = ""


@dataclasses.dataclass
class Results:
    metrics: list[Metric]
    systems: list[System]
    samples: dict[tuple[str, System], list[Sample]] = dataclasses.field(default_factory=dict)
    unavailable: dict[tuple[str, System], str] = dataclasses.field(default_factory=dict)
    load_averages: dict[tuple[int, System], tuple[float, float, float]] = dataclasses.field(
        default_factory=dict
    )
    #: Per round: % of the machine other processes used (not niced, niced) and steal time.
    contention: dict[tuple[int, System], tuple[float, float, float]] = dataclasses.field(default_factory=dict)

    def add(self, key: str, system: System, sample: Sample) -> None:
        self.samples.setdefault((key, system), []).append(sample)

    def mark_unavailable(self, key: str, system: System, reason: str) -> None:
        self.unavailable[(key, system)] = reason

    def values(self, key: str, system: System) -> list[float]:
        return [s.value for s in self.samples.get((key, system), [])]

    def median(self, key: str, system: System) -> float | None:
        values = self.values(key, system)
        return statistics.median(values) if values else None

    def median_of(self, key: str, system: System, field: str) -> float | None:
        values = [
            getattr(s, field) for s in self.samples.get((key, system), []) if getattr(s, field) is not None
        ]
        return statistics.median(values) if values else None

    def ratio(self, key: str) -> float | None:
        brook, kafka = self.median(key, "brook"), self.median(key, "kafka")
        if brook is None or kafka is None or kafka == 0:
            return None
        return brook / kafka

    def to_json(self) -> str:
        return json.dumps(
            {
                "metrics": [dataclasses.asdict(m) for m in self.metrics],
                "samples": [
                    {"metric": key, "system": system, **dataclasses.asdict(sample)}
                    for (key, system), samples in self.samples.items()
                    for sample in samples
                ],
                "unavailable": [
                    {"metric": key, "system": system, "reason": reason}
                    for (key, system), reason in self.unavailable.items()
                ],
                "contention": [
                    {"round": rnd, "system": system, "others_pct": c[0], "niced_pct": c[1], "steal_pct": c[2]}
                    for (rnd, system), c in self.contention.items()
                ],
                "load_averages": [
                    {"round": rnd, "system": system, "load": list(load)}
                    for (rnd, system), load in self.load_averages.items()
                ],
            },
            indent=2,
        )


def fmt(value: float | None, digits: int = 1) -> str:
    if value is None:
        return "-"
    if abs(value) >= 10_000:
        return f"{value:,.0f}"
    return f"{value:,.{digits}f}"


def _cpu(results: Results, key: str, system: System) -> str:
    broker = results.median_of(key, system, "broker_cpu_pct")
    client = results.median_of(key, system, "client_cpu_pct")
    if broker is None and client is None:
        return ""
    return f"{fmt(broker, 0)} / {fmt(client, 0)}"


def _cell(results: Results, metric: Metric, system: System) -> str:
    if (metric.key, system) in results.unavailable and not results.values(metric.key, system):
        return "n/a¹"
    value = results.median(metric.key, system)
    text = fmt(value, metric.digits)
    rps = results.median_of(metric.key, system, "records_per_s")
    if rps is not None:
        text += f" ({fmt(rps / 1000, 0)}k rec/s)"
    return text


def _ratio(results: Results, metric: Metric) -> str:
    ratio = results.ratio(metric.key)
    if ratio is None:
        return "-"
    better = ratio >= 1 if metric.higher_is_better else ratio <= 1
    text = f"{ratio:.2f}" if ratio >= 0.1 else f"{ratio:.3f}"
    return f"**{text}**" if better else text


def summary_rows(results: Results) -> list[list[str]]:
    """Rows: group, metric, unit, Brook median, Kafka median, ratio, CPU% broker/client per system."""
    rows = []
    for metric in results.metrics:
        if not any(
            (metric.key, s) in results.samples or (metric.key, s) in results.unavailable
            for s in results.systems
        ):
            continue
        row = [metric.group, metric.label, metric.unit]
        row += [_cell(results, metric, system) for system in results.systems]
        if set(results.systems) == {"brook", "kafka"}:
            row.append(_ratio(results, metric))
        row += [_cpu(results, metric.key, system) for system in results.systems]
        rows.append(row)
    return rows


def summary_header(results: Results) -> list[str]:
    header = ["", "metric", "unit"]
    header += [f"{SYSTEM_NAMES[s]} (median)" for s in results.systems]
    if set(results.systems) == {"brook", "kafka"}:
        header.append("Brook/Kafka")
    header += [f"{SYSTEM_NAMES[s]} CPU % broker / client" for s in results.systems]
    return header


def runs_rows(results: Results) -> list[list[str]]:
    """Every run's value per metric and system (for the per-run table)."""
    rows = []
    for metric in results.metrics:
        for system in results.systems:
            samples = results.samples.get((metric.key, system), [])
            if samples:
                values = ", ".join(fmt(s.value, metric.digits) for s in samples)
                rows.append([metric.label, SYSTEM_NAMES[system], values])
    return rows


def markdown_table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def print_table(title: str, header: Sequence[str], rows: Iterable[Sequence[str]]) -> None:
    """A rich table on the terminal (plain text when stdout is not a terminal)."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title, title_justify="left")
    for index, name in enumerate(header):
        table.add_column(name.replace("**", ""), justify="left" if index < 2 else "right")
    for row in rows:
        table.add_row(*(cell.replace("**", "") for cell in row))
    Console(width=200).print(table)


_BEGIN = "<!-- BEGIN generated: {name} (do not edit by hand; {tool} rewrites it) -->"
_END = "<!-- END generated: {name} -->"


def replace_section(path: Path, name: str, *, tool: str, body: str, skeleton: str) -> None:
    """Replace the generated block `name` in `path` (creating the file from `skeleton` if needed)."""
    text = path.read_text() if path.exists() else skeleton
    begin_prefix = f"<!-- BEGIN generated: {name} "
    end = _END.format(name=name)
    block = f"{_BEGIN.format(name=name, tool=tool)}\n{body.strip()}\n{end}"
    start = text.find(begin_prefix)
    stop = text.find(end)
    if start >= 0 and stop > start:
        text = text[:start] + block + text[stop + len(end) :]
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def section_markers(name: str, tool: str) -> str:
    """An empty generated block, for skeletons."""
    return f"{_BEGIN.format(name=name, tool=tool)}\n_(not generated yet)_\n{_END.format(name=name)}"
