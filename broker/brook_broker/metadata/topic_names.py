"""Kafka's rules for legal topic names (``org.apache.kafka.common.internals.Topic``)."""

from __future__ import annotations

import re

MAX_NAME_LENGTH = 249
_LEGAL = re.compile(r"^[a-zA-Z0-9._-]+$")
INTERNAL_TOPICS = frozenset({"__consumer_offsets", "__transaction_state", "__share_group_state"})
METADATA_TOPIC = "__cluster_metadata"
_INVALID = "Topic name is invalid: "


def invalid_reason(name: str) -> str | None:
    """Kafka's message for an illegal topic name (``Topic.validate``), or ``None`` when it is legal."""
    if not name:
        return _INVALID + "the empty string is not allowed"
    if name in (".", ".."):
        return _INVALID + f"'{name}' is not allowed"
    if len(name) > MAX_NAME_LENGTH:
        return _INVALID + f"the length of '{name}' is longer than the max allowed length {MAX_NAME_LENGTH}"
    if not _LEGAL.fullmatch(name):
        return (
            _INVALID + f"'{name}' contains one or more characters other than ASCII alphanumerics, "
            "'.', '_' and '-'"
        )
    return None


def unify_collision_chars(name: str) -> str:
    """Names that differ only in '.' vs '_' collide in metric names, so Kafka refuses them."""
    return name.replace(".", "_")


def is_internal(name: str) -> bool:
    return name in INTERNAL_TOPICS
