"""Subscriptions against the metadata image: topic names, regular expressions, the metadata hash.

A consumer group's members subscribe by topic names or (ConsumerGroupHeartbeat v1) by one
regular expression each. The coordinator resolves regexes against the topics in the metadata
image, and it bumps the group epoch — a new target assignment — whenever the metadata of the
subscribed topics changes: a topic is created or deleted, partitions are added. It notices by
comparing a hash of that metadata with the one stored in the group's ConsumerGroupMetadata
record (KIP-1101's ``MetadataHash``).

Differences from Kafka, on purpose:

- Kafka compiles regexes with RE2/J; Brook uses Python's ``re`` (``fullmatch``, as Kafka's
  ``matches()``). Common patterns (``orders-.*``, ``(a|b)-[0-9]+``, ``^t.*``) behave the same;
  Python accepts some syntax RE2 rejects (backreferences, lookaround) and vice versa
  (``\\C``, RE2's Unicode classes ``\\pN``), and RE2 never backtracks exponentially.
- The metadata hash covers each subscribed topic's name, id and partition count (no racks);
  it is Brook's own function (BLAKE2b), not Kafka's XXH3 layout, so a group moved between a
  Kafka and a Brook coordinator gets one extra epoch bump. Pure.
"""

from __future__ import annotations

import functools
import hashlib
import re
import struct
import uuid
from collections.abc import Iterable

from brook_broker.metadata.image import MetadataImage


@functools.lru_cache(maxsize=256)
def compile_regex(pattern: str) -> re.Pattern[str] | None:
    """The compiled pattern, or ``None`` if Python's ``re`` cannot compile it."""
    try:
        return re.compile(pattern)
    except re.error:
        return None


#: Python ``re`` error texts -> the RE2/J descriptions Kafka puts in its message.
_RE2_ERRORS = (
    ("missing ), unterminated subpattern", "missing closing )"),
    ("unbalanced parenthesis", "unexpected )"),
    ("unterminated character set", "missing closing ]"),
    ("nothing to repeat", "missing argument to repetition operator"),
    ("multiple repeat", "invalid nested repetition operator"),
    ("bad character range", "invalid character class range"),
    ("bad escape (end of pattern)", "trailing backslash at end of expression"),
    ("bad escape", "invalid escape sequence"),
    ("unknown extension", "invalid or unsupported Perl syntax"),
)
#: Syntax Python accepts and RE2 does not: lookaround, and backreferences (RE2's own descriptions).
_NOT_RE2 = (
    (re.compile(r"\(\?(?:=|!|<=|<!)"), "invalid or unsupported Perl syntax"),
    (re.compile(r"\\[1-9]"), "invalid escape sequence"),
)


def regex_error(pattern: str) -> str | None:
    """Kafka's INVALID_REGULAR_EXPRESSION message for ``pattern``, or ``None`` if it is valid."""
    try:
        re.compile(pattern)
    except re.error as exc:
        description = next((re2 for py, re2 in _RE2_ERRORS if exc.msg.startswith(py)), exc.msg)
        return f"SubscribedTopicRegex `{pattern}` is not a valid regular expression: {description}."
    for syntax, description in _NOT_RE2:
        if syntax.search(pattern):
            return f"SubscribedTopicRegex `{pattern}` is not a valid regular expression: {description}."
    return None


def resolve_regex(pattern: str, image: MetadataImage) -> frozenset[str]:
    """The topics of the image whose whole name matches ``pattern``."""
    compiled = compile_regex(pattern)
    if compiled is None:
        return frozenset()
    return frozenset(name for name in image.topics_by_name if compiled.fullmatch(name))


def existing_topic_ids(names: Iterable[str], image: MetadataImage) -> dict[uuid.UUID, int]:
    """Topic id -> partition count, for the names that exist in the image."""
    found = {}
    for name in names:
        topic = image.topic(name)
        if topic is not None:
            found[topic.topic_id] = len(topic.partitions)
    return found


def metadata_hash(names: Iterable[str], image: MetadataImage) -> int:
    """A signed 64-bit hash of the subscribed topics' metadata; 0 when none of them exist."""
    digest = hashlib.blake2b(digest_size=8)
    found = False
    for name in sorted(set(names)):
        topic = image.topic(name)
        if topic is None:
            continue
        found = True
        encoded = name.encode()
        digest.update(struct.pack(">H", len(encoded)) + encoded + topic.topic_id.bytes)
        digest.update(struct.pack(">i", len(topic.partitions)))
    if not found:
        return 0
    value: int = struct.unpack(">q", digest.digest())[0]
    return value or 1  # 0 is "not written" in the record
