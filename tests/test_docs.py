"""Docs that state facts about the code are checked against the code."""

from __future__ import annotations

import re
from pathlib import Path

from brook_broker.apis.dispatcher import Dispatcher  # noqa: F401 - registers every handler
from brook_broker.apis.registry import REGISTRY

DOCS = Path(__file__).resolve().parents[1] / "docs"
_ROW = re.compile(r"^\| (\d+) \| (\w+) \| (\d+)–(\d+) \|", re.MULTILINE)  # noqa: RUF001 - the docs' en dash


def test_compatibility_table_matches_the_registry() -> None:
    text = (DOCS / "compatibility.md").read_text()
    documented = {int(key): (name, int(lo), int(hi)) for key, name, lo, hi in _ROW.findall(text)}
    served = {spec.key: (spec.name, spec.min_version, spec.max_version) for spec in REGISTRY.values()}
    assert documented == served
