"""Where the benchmark tools write: docs/benchmarks.md, made of hand-written text and generated blocks.

Each tool owns one block (`results.replace_section`): ``side-by-side`` (``python -m
bench.side_by_side``), ``brook-alone`` (``python -m bench.throughput --write-docs``) and
``profile`` (``python -m bench.profile --write-docs``). Text outside the blocks is kept as is;
`SKELETON` is only used when the file does not exist yet.
"""

from __future__ import annotations

from bench.results import section_markers

DOCS_PATH = "docs/benchmarks.md"

SKELETON = f"""# Benchmarks

Brook and Apache Kafka side by side on one machine. Regenerate with `make bench`.

## Brook and Apache Kafka side by side

{section_markers("side-by-side", "python -m bench.side_by_side")}

## Brook alone

{section_markers("brook-alone", "python -m bench.throughput --write-docs")}

## Where the broker's time goes

{section_markers("profile", "python -m bench.profile --write-docs")}
"""
