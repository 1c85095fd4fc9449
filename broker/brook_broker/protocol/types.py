"""Small value types shared by every layer (Kafka's ``TopicPartition``, ``Uuid``)."""

from __future__ import annotations

import base64
import uuid
from typing import NamedTuple


class TopicPartition(NamedTuple):
    topic: str
    partition: int

    def __str__(self) -> str:
        # Kafka's directory and log naming: ``<topic>-<partition>``.
        return f"{self.topic}-{self.partition}"


ZERO_UUID = uuid.UUID(int=0)


def random_topic_id() -> uuid.UUID:
    """A topic id as Kafka makes them: random, never the zero or the metadata-topic sentinel."""
    while True:
        value = uuid.uuid4()
        if value.int not in (0, 1):
            return value


def uuid_to_base64(value: uuid.UUID) -> str:
    """Kafka's printed form of a Uuid (URL-safe base64 without padding), as in ``partition.metadata``."""
    return base64.urlsafe_b64encode(value.bytes).decode().rstrip("=")


def uuid_from_base64(text: str) -> uuid.UUID:
    padded = text + "=" * (-len(text) % 4)
    return uuid.UUID(bytes=base64.urlsafe_b64decode(padded))
