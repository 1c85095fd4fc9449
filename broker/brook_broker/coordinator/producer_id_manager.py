"""Producer ids for idempotent producers (Kafka's ``ProducerIdManager``).

Ids come from the controller in blocks (KIP-730) so that a broker hands them out without a
metadata write per producer, and a restarted broker never reuses an id: the block is
recorded in the metadata log before any id from it is given away.
"""

from __future__ import annotations

from brook_broker.metadata.controller import QuorumController


class ProducerIdManager:
    def __init__(self, controller: QuorumController) -> None:
        self._controller = controller
        self._block: range = range(0)
        self._next = 0

    def generate_producer_id(self) -> int:
        if self._next >= self._block.stop:
            self._block = self._controller.allocate_producer_ids()
            self._next = self._block.start
        producer_id = self._next
        self._next += 1
        return producer_id
