"""The time source of the log layer (Kafka's ``Time``), in milliseconds since the epoch.

`UnifiedLog`, `LogSegment` and `LogManager` take a `Clock` so tests can drive segment
rolling, retention and producer expiry without sleeping.
"""

from __future__ import annotations

import time
from collections.abc import Callable

Clock = Callable[[], int]


def system_clock_ms() -> int:
    return time.time_ns() // 1_000_000
