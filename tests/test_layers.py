"""The broker's import layers (ARCHITECTURE.md §3): a layer imports only layers below it.

`config` and `protocol` are independent siblings at the bottom; neither imports the other.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "broker" / "brook_broker"

#: Top to bottom. A tuple is a group of independent siblings.
LAYERS: list[tuple[str, ...]] = [
    ("cli",),
    ("server",),
    ("apis",),
    ("coordinator",),
    ("replication",),
    ("metadata",),
    ("log",),
    ("config", "protocol"),
]
RANK = {name: rank for rank, group in enumerate(LAYERS) for name in group}
#: Modules that may import anything: the package entry points.
ENTRY_POINTS = {"__init__", "__main__"}


def _layer_of(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] != "brook_broker" or len(parts) < 2:
        return None
    return parts[1]


def _imports(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
    return found


def test_every_package_has_a_layer() -> None:
    packages = {p.name for p in PACKAGE.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    assert packages <= set(RANK), f"packages without a layer: {sorted(packages - set(RANK))}"


@pytest.mark.parametrize("path", sorted(PACKAGE.rglob("*.py")), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_respect_layers(path: Path) -> None:
    own = path.relative_to(PACKAGE).parts[0].removesuffix(".py")
    if own in ENTRY_POINTS:
        return
    own_rank = RANK[own]
    for lineno, module in _imports(path):
        target = _layer_of(module)
        if target is None or target == own:
            continue
        assert target in RANK, f"{path.name}:{lineno} imports unknown layer {module}"
        assert RANK[target] > own_rank, (
            f"{path.relative_to(PACKAGE)}:{lineno} imports {module}: layer {own!r} may not import {target!r}"
        )


#: cli/ modules that run the broker; every other cli/ module is client-side.
BROKER_COMMANDS = {"broker.py"}


@pytest.mark.parametrize(
    "path",
    sorted(p for p in (PACKAGE / "cli").glob("*.py") if p.name not in BROKER_COMMANDS),
    ids=lambda p: p.name,
)
def test_client_side_imports_no_broker_layer(path: Path) -> None:
    # The client commands and their admin layer (which the operator imports too) must work
    # against any Kafka broker without loading Brook's server, log or coordinator code.
    for lineno, module in _imports(path):
        layer = _layer_of(module)
        assert layer in (None, "cli"), f"cli/{path.name}:{lineno} imports {module}"
