"""`EventLoopTimer`: the shards' keyed timers on the asyncio event loop.

Kafka's ``CoordinatorTimer`` schedules *operations*: when a timer fires, its operation runs
against the shard like any request, and the records it returns are written. Here ``run``
(supplied by `coordinator.GroupCoordinator`) does exactly that. Scheduling a key that is
already scheduled replaces it — heartbeats reschedule their member's expiry on every call.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from brook_broker.coordinator.group.common import CoordinatorResult

Operation = Callable[[], CoordinatorResult[None]]


class EventLoopTimer:
    def __init__(self, run: Callable[[Operation], None]) -> None:
        self._run = run
        self._handles: dict[str, asyncio.TimerHandle] = {}

    def schedule(self, key: str, delay_ms: int, operation: Operation) -> None:
        self.cancel(key)
        loop = asyncio.get_running_loop()

        def fire() -> None:
            if self._handles.get(key) is handle:
                del self._handles[key]
            self._run(operation)

        handle = loop.call_later(max(delay_ms, 0) / 1000, fire)
        self._handles[key] = handle

    def cancel(self, key: str) -> None:
        handle = self._handles.pop(key, None)
        if handle is not None:
            handle.cancel()

    def is_scheduled(self, key: str) -> bool:
        return key in self._handles

    def cancel_all(self) -> None:
        for handle in self._handles.values():
            handle.cancel()
        self._handles.clear()

    def __len__(self) -> int:
        return len(self._handles)
