"""Purgatories: where requests wait for a partition to change (Kafka's ``DelayedOperationPurgatory``).

An acks=all produce waits for the high watermark to pass its last offset; a long-poll fetch
waits for data to arrive. Both wait on *keys* (topic-partitions): whoever advances a
partition calls `Purgatory.notify` and every waiter on that key wakes up and re-checks its
own condition. Waking is cheap and spurious wake-ups are harmless, which keeps the
conditions in one place (the waiter) instead of spread over every writer.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Hashable, Iterable


class Purgatory:
    def __init__(self) -> None:
        self._watchers: dict[Hashable, set[asyncio.Future[None]]] = {}

    def notify(self, key: Hashable) -> None:
        """Wake every waiter watching ``key``."""
        waiters = self._watchers.pop(key, None)
        if waiters:
            for future in waiters:
                if not future.done():
                    future.set_result(None)

    async def wait_until(
        self,
        keys: Iterable[Hashable],
        condition: Callable[[], bool],
        *,
        timeout_s: float,
    ) -> bool:
        """Wait until ``condition()`` holds (re-checked on each notify) or the timeout passes.

        Returns the final value of ``condition()``.
        """
        keys = list(keys)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while not condition():
            remaining = deadline - loop.time()
            if remaining <= 0:
                return False
            future: asyncio.Future[None] = loop.create_future()
            for key in keys:
                self._watchers.setdefault(key, set()).add(future)
            try:
                await asyncio.wait_for(future, remaining)
            except TimeoutError:
                return condition()
            finally:
                for key in keys:
                    watchers = self._watchers.get(key)
                    if watchers is not None:
                        watchers.discard(future)
                        if not watchers:
                            del self._watchers[key]
        return True

    @property
    def num_watched_keys(self) -> int:
        return len(self._watchers)
