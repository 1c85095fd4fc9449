"""The operator's import layers (ARCHITECTURE.md §4): a layer imports only layers below it.

`handlers` (and the `cli`/`__main__` entry points) on top, then `reconcilers`, then the two I/O shells
`resources` and `admin`, then the pure `model`, then `api`; `settings` is a leaf anyone may read. Only
`handlers` registers kopf handlers. Nothing imports the broker, except that `admin` uses the client-side
admin layer it shares with the `brook` CLI (`SHARED_CLIENT`), which itself imports no broker code
(tests/test_layers.py checks that side).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "operator" / "brook_operator"
RANK = {"handlers": 0, "reconcilers": 1, "resources": 2, "admin": 2, "model": 3, "api": 4, "settings": 5}
ENTRY_POINTS = {"__init__", "__main__", "cli"}
#: The broker modules `admin` may import: the CLI's Kafka admin client, one admin layer for both.
SHARED_CLIENT = frozenset(
    {"brook_broker.cli.client", "brook_broker.cli.connection", "brook_broker.cli.kafka_errors"}
)
SOURCES = sorted(PACKAGE.rglob("*.py"))


def _imports(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names = [f"{node.module}.{alias.name}" for alias in node.names]
            found.extend((node.lineno, name) for name in [node.module, *names])
    return found


def _layer(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if parts[0] == "brook_operator" and len(parts) > 1 and parts[1] in RANK else None


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_respect_layers(path: Path) -> None:
    own = path.relative_to(PACKAGE).parts[0].removesuffix(".py")
    for lineno, module in _imports(path):
        shared = own == "admin" and any(module == m or module.startswith(f"{m}.") for m in SHARED_CLIENT)
        assert shared or not module.startswith("brook_broker"), f"{path.name}:{lineno} imports the broker"
        if own in ENTRY_POINTS:
            continue
        target = _layer(module)
        if target is None or target == own:
            continue
        assert RANK[target] > RANK[own], (
            f"{path.relative_to(PACKAGE)}:{lineno}: {own!r} may not import {module}"
        )


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_only_handlers_register_kopf_handlers(path: Path) -> None:
    if path.name == "handlers.py":
        return
    text = path.read_text()
    assert not re.search(r"^\s*@kopf\.", text, re.MULTILINE), f"{path.name} registers kopf handlers"
    if path.parent.name in {"model", "api"}:
        assert "import kopf" not in text and "asyncio" not in text, f"{path.name} is a pure layer"


def test_every_module_has_a_docstring() -> None:
    for path in SOURCES:
        tree = ast.parse(path.read_text())
        assert ast.get_docstring(tree), f"{path.relative_to(PACKAGE)} has no module docstring"
