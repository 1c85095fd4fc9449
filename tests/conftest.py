"""Root conftest: loads the test harness plugins (``tests/`` is on ``pythonpath``, see pyproject)."""

pytest_plugins = ["harness.fixtures", "harness.brook_fixtures"]
