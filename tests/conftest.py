"""Root conftest of the test suite: makes `tests/harness` importable and loads its pytest plugin.

The sys.path line stands in for `pythonpath = ["tests"]` in pyproject's [tool.pytest.ini_options];
move it there when convenient (appended, not prepended, so `harness` never shadows a real package).
"""

import sys
from pathlib import Path

_TESTS = str(Path(__file__).resolve().parent)
if _TESTS not in sys.path:
    sys.path.append(_TESTS)

pytest_plugins = ["harness.fixtures", "harness.brook_fixtures"]
