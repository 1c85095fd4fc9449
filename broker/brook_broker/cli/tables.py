"""Tables of the client commands: rich on a terminal, plain aligned columns for scripts.

Used by `cli.groups` and `cli.offset_reset`. Off a terminal a table is what
``kafka-consumer-groups.sh`` prints: a header line of column names, then one line per row,
values separated by spaces and ``-`` for a missing value, so that ``awk`` and scripts written
for Kafka's tool can read it.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import TextIO

MISSING = "-"
_GAP = "  "


def cell(value: object) -> str:
    """A value as a table shows it: ``-`` for None or an empty string."""
    return MISSING if value is None or value == "" else str(value)


def print_table(header: Sequence[str], rows: Sequence[Sequence[str]], *, out: TextIO | None = None) -> None:
    stream = out or sys.stdout
    if stream.isatty():
        # rich takes a noticeable part of a second to import; only terminal output pays for it.
        from rich.console import Console
        from rich.markup import escape
        from rich.table import Table

        table = Table(*header, box=None, header_style="bold", pad_edge=False)
        for row in rows:
            table.add_row(*(escape(value) for value in row))
        Console(file=stream, highlight=False).print(table)
        return
    widths = [max(len(line[i]) for line in [header, *rows]) for i in range(len(header))]
    for line in [header, *rows]:
        padded = [value.ljust(width) for value, width in zip(line, widths, strict=True)]
        stream.write(_GAP.join(padded).rstrip() + "\n")
    stream.flush()
