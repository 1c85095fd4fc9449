"""Benchmarks of the Brook broker, alone and side by side with Apache Kafka (see docs/benchmarks.md).

Entry points (run from the repository root):

- ``python -m bench.throughput``: Brook alone, one librdkafka producer and consumer (``make bench-brook``).
- ``python -m bench.side_by_side``: Brook and Apache Kafka alternating, writes docs/benchmarks.md
  (``make bench``; ``--quick`` for a smoke run).
- ``python -m bench.profile``: py-spy profiles of the broker under produce and consume load
  (``make bench-profile``).

The reference Kafka and the Brook process fixtures live in ``tests/harness`` (import name
``harness``); importing this package puts ``tests/`` on ``sys.path`` so both are reachable.
Nothing here is part of ``make test`` except a smoke test in ``tests/bench``.
"""

from __future__ import annotations

import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]

_TESTS = str(REPO_ROOT / "tests")
if _TESTS not in sys.path:
    # Appended, not prepended, as tests/conftest.py does: `harness` never shadows a real package.
    sys.path.append(_TESTS)
