"""A shard on a manual clock: the group coordinator's state machines without asyncio or a log.

`ShardHarness` plays the runtime's part: it "appends" each operation's records to an
in-memory list (giving them offsets), replays them when the result asks for it, and reports
the commit — exactly what `coordinator.GroupCoordinator` does, minus the disk. Timers fire
only when a test advances the clock, so every rebalance step is explicit.
"""

from __future__ import annotations

import dataclasses
import heapq
import itertools
from collections.abc import Callable
from typing import Any

from brook_broker.coordinator.group.common import CoordinatorResult, GroupConfig
from brook_broker.coordinator.group.messages import (
    HeartbeatRequest,
    JoinGroupRequest,
    JoinGroupResponse,
    SyncGroupRequest,
    SyncGroupResponse,
)
from brook_broker.coordinator.group.records import CoordinatorRecord
from brook_broker.coordinator.group.shard import GroupCoordinatorShard
from brook_broker.protocol.errors import ErrorCode

CONSUMER = "consumer"


def subscription(*topics: str, version: int = 0) -> bytes:
    """A ConsumerProtocolSubscription as the Java client writes it (v0: topics, null user data)."""
    out = version.to_bytes(2, "big") + len(topics).to_bytes(4, "big")
    for topic in topics:
        out += len(topic).to_bytes(2, "big") + topic.encode()
    return out + (-1).to_bytes(4, "big", signed=True)


class ManualTimer:
    def __init__(self, clock: ManualClock) -> None:
        self.clock = clock
        self._entries: dict[str, tuple[int, int, Callable[[], CoordinatorResult[None]]]] = {}
        self._seq = itertools.count()

    def schedule(self, key: str, delay_ms: int, operation: Callable[[], CoordinatorResult[None]]) -> None:
        self._entries[key] = (self.clock.now + delay_ms, next(self._seq), operation)

    def cancel(self, key: str) -> None:
        self._entries.pop(key, None)

    def is_scheduled(self, key: str) -> bool:
        return key in self._entries

    def deadline(self, key: str) -> int:
        return self._entries[key][0]

    def pop_due(self) -> tuple[str, Callable[[], CoordinatorResult[None]]] | None:
        due = [
            (deadline, seq, key)
            for key, (deadline, seq, _) in self._entries.items()
            if deadline <= self.clock.now
        ]
        if not due:
            return None
        _, _, key = heapq.nsmallest(1, due)[0]
        return key, self._entries.pop(key)[2]

    def next_deadline(self) -> int | None:
        return min((deadline for deadline, _, _ in self._entries.values()), default=None)


@dataclasses.dataclass
class ManualClock:
    now: int = 1_700_000_000_000

    def __call__(self) -> int:
        return self.now


class ShardHarness:
    def __init__(self, config: GroupConfig | None = None, *, partition: int = 0) -> None:
        self.clock = ManualClock()
        self.timer = ManualTimer(self.clock)
        self.config = config or GroupConfig(classic_group_initial_rebalance_delay_ms=3000)
        self.shard = GroupCoordinatorShard(
            partition=partition, config=self.config, timer=self.timer, time_ms=self.clock
        )
        #: Every record "written", with its offset: a test can replay them into a new shard.
        self.log: list[tuple[int, CoordinatorRecord]] = []
        #: Set to an error code to make the next writes fail.
        self.fail_writes: ErrorCode | None = None

    def run(self, result: CoordinatorResult[Any]) -> Any:
        """Complete ``result`` as the runtime would; returns its response."""
        error = ErrorCode.none
        if result.records:
            if self.fail_writes is not None:
                error = self.fail_writes
            else:
                for record in result.records:
                    offset = len(self.log)
                    self.log.append((offset, record))
                    if result.replay:
                        self.shard.replay(offset, record)
        if result.on_committed is not None:
            result.on_committed(error)
        return result.response

    def advance(self, ms: int) -> None:
        """Move the clock, firing due timers in deadline order (each one's records are written)."""
        target = self.clock.now + ms
        while True:
            deadline = self.timer.next_deadline()
            if deadline is None or deadline > target:
                break
            self.clock.now = max(self.clock.now, deadline)
            due = self.timer.pop_due()
            if due is not None:
                self.run(due[1]())
        self.clock.now = target

    # --- requests ---------------------------------------------------------------------------

    def join(
        self,
        group_id: str,
        *,
        member_id: str = "",
        instance_id: str | None = None,
        protocols: tuple[tuple[str, bytes], ...] = (("range", subscription("t")),),
        session_ms: int = 10_000,
        rebalance_ms: int = 60_000,
        version: int = 5,
        client_id: str = "client",
        protocol_type: str = CONSUMER,
    ) -> list[JoinGroupResponse]:
        """Send a JoinGroup; the returned list fills in when the join completes."""
        responses: list[JoinGroupResponse] = []
        request = JoinGroupRequest(
            group_id=group_id,
            member_id=member_id,
            group_instance_id=instance_id,
            protocol_type=protocol_type,
            protocols=protocols,
            session_timeout_ms=session_ms,
            rebalance_timeout_ms=rebalance_ms,
            client_id=client_id,
            client_host="/127.0.0.1",
            api_version=version,
        )
        self.run(self.shard.classic.join_group(request, responses.append))
        return responses

    def join_two_step(self, group_id: str, **kwargs: Any) -> list[JoinGroupResponse]:
        """KIP-394: the first join gets MEMBER_ID_REQUIRED and an id, the second parks."""
        (first,) = self.join(group_id, **kwargs)
        assert first.error == ErrorCode.member_id_required
        return self.join(group_id, member_id=first.member_id, **kwargs)

    def sync(
        self,
        group_id: str,
        response: JoinGroupResponse,
        *,
        assignments: dict[str, bytes] | None = None,
        instance_id: str | None = None,
        generation: int | None = None,
    ) -> list[SyncGroupResponse]:
        responses: list[SyncGroupResponse] = []
        request = SyncGroupRequest(
            group_id=group_id,
            generation_id=response.generation_id if generation is None else generation,
            member_id=response.member_id,
            group_instance_id=instance_id,
            protocol_type=response.protocol_type,
            protocol_name=response.protocol_name,
            assignments=tuple((assignments or {}).items()),
        )
        self.run(self.shard.classic.sync_group(request, responses.append))
        return responses

    def heartbeat(
        self, group_id: str, member_id: str, generation: int, *, instance_id: str | None = None
    ) -> ErrorCode:
        return self.shard.classic.heartbeat(
            HeartbeatRequest(
                group_id=group_id,
                generation_id=generation,
                member_id=member_id,
                group_instance_id=instance_id,
            )
        )

    def stable_group(self, group_id: str, members: int) -> list[JoinGroupResponse]:
        """``members`` dynamic members joined in one generation, leader synced: a Stable group."""
        parked = [self.join_two_step(group_id) for _ in range(members)]
        # Joins after the first extend the initial delay once (they arrived in its window).
        self.advance(2 * self.config.classic_group_initial_rebalance_delay_ms)
        responses = [p[0] for p in parked]
        leader = next(r for r in responses if r.member_id == r.leader)
        assignments = {r.member_id: f"assignment-{r.member_id}".encode() for r in responses}
        for response in responses:
            if response is not leader:
                self.sync(group_id, response)
        self.sync(group_id, leader, assignments=assignments)
        return responses
