"""The group coordinator's unit tests: shared helpers live in ``coordinator_testkit``.

This directory is put on ``sys.path`` for it, as the log tests do for ``log_testkit``.
"""

from __future__ import annotations

import sys
from pathlib import Path

_HERE = str(Path(__file__).resolve().parent)
if _HERE not in sys.path:
    sys.path.append(_HERE)
