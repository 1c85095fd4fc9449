"""Kafka's rules for legal topic names (``org.apache.kafka.common.internals.Topic``)."""

from __future__ import annotations

import re

MAX_NAME_LENGTH = 249
_LEGAL = re.compile(r"^[a-zA-Z0-9._-]+$")
INTERNAL_TOPICS = frozenset({"__consumer_offsets", "__transaction_state"})
METADATA_TOPIC = "__cluster_metadata"


def invalid_reason(name: str) -> str | None:
    """Kafka's message for an illegal topic name, or ``None`` when the name is legal."""
    if not name:
        return "Topic name is illegal, it can't be empty"
    if name in (".", ".."):
        return 'Topic name cannot be "." or ".."'
    if len(name) > MAX_NAME_LENGTH:
        return (
            f"Topic name is illegal, it can't be longer than {MAX_NAME_LENGTH} characters, topic name: {name}"
        )
    if not _LEGAL.match(name):
        return (
            f"Topic name {name} is illegal, it contains a character other than ASCII alphanumerics, "
            "'.', '_' and '-'"
        )
    return None


def unify_collision_chars(name: str) -> str:
    """Names that differ only in '.' vs '_' collide in metric names, so Kafka refuses them."""
    return name.replace(".", "_")


def is_internal(name: str) -> bool:
    return name in INTERNAL_TOPICS
