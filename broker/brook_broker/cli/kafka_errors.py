"""Kafka error codes as exceptions of the client-side admin layer, with one-line descriptions.

Raised by `cli.client.Admin` (topics, offsets) and `cli.group_client` (groups); `cli.common`
prints them as ``error: ...`` lines and the operator's `brook_operator.admin` turns them into
condition messages. `RETRIABLE` lists the codes Kafka's own AdminClient retries until its
timeout (a coordinator loading or moving, a leader election in progress).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from aiokafka.errors import for_code
from kio.schema.errors import ErrorCode

#: Transient answers: the request succeeds when repeated a moment later (after finding the
#: coordinator or leader again), so the admin layer retries them instead of failing.
RETRIABLE = frozenset(
    {
        ErrorCode.coordinator_load_in_progress,
        ErrorCode.coordinator_not_available,
        ErrorCode.not_coordinator,
        ErrorCode.not_leader_or_follower,
        ErrorCode.leader_not_available,
        ErrorCode.request_timed_out,
    }
)


class KafkaApiError(Exception):
    """A Kafka error code in a response, with the broker's message when it sent one.

    ``kind`` and ``name`` say what the request was about (``topic``, ``hello-kafka``).
    """

    #: Clearer than the generic texts brokers send for these codes.
    _TEMPLATES: Mapping[ErrorCode, str] = {
        ErrorCode.unknown_topic_or_partition: "{kind} '{name}' does not exist",
        ErrorCode.topic_already_exists: "{kind} '{name}' already exists",
        ErrorCode.message_too_large: "record too large for {kind} '{name}'",
        ErrorCode.group_id_not_found: "{kind} '{name}' does not exist",
        ErrorCode.non_empty_group: "{kind} '{name}' still has members; stop its consumers first",
        ErrorCode.invalid_group_id: "'{name}' is not a valid group id",
    }

    def __init__(
        self, code: ErrorCode, message: str | None = None, *, kind: str = "topic", name: str | None = None
    ) -> None:
        self.code = code
        self.message = message
        self.kind = kind
        self.name = name
        super().__init__(self.describe())

    @property
    def error_name(self) -> str:
        """Kafka's name of the error, e.g. ``TOPIC_ALREADY_EXISTS``."""
        return self.code.name.upper()

    @property
    def retriable(self) -> bool:
        return self.code in RETRIABLE

    def describe(self) -> str:
        template = self._TEMPLATES.get(self.code)
        if template and self.name is not None:
            text = template.format(kind=self.kind, name=self.name)
        else:
            text = _sentence_fragment(self.message or _aiokafka_description(self.code))
            if self.name is not None and not _mentions(text, self.name):
                text = f"{self.kind} '{self.name}': {text}"
        return f"{text} ({self.error_name})"


def check(code: ErrorCode, message: str | None = None, *, kind: str = "topic", name: str) -> None:
    """Raise `KafkaApiError` unless ``code`` is NONE."""
    if code != ErrorCode.none:
        raise KafkaApiError(code, message, kind=kind, name=name)


def _aiokafka_description(code: ErrorCode) -> str:
    description = str(getattr(for_code(int(code)), "description", ""))
    return description if for_code(int(code)).errno == int(code) and description else "request failed"


def _mentions(text: str, name: str) -> bool:
    """Whether ``text`` names ``name`` as a whole word (topic names use ``[A-Za-z0-9._-]``)."""
    return re.search(rf"(?<![\w.-]){re.escape(name)}(?![\w.-])", text) is not None


def _sentence_fragment(text: str) -> str:
    """``"Topic 'x' already exists."`` -> ``"topic 'x' already exists"``, to follow ``error: ``."""
    text = text.strip().removesuffix(".")
    if len(text) > 1 and text[0].isupper() and text[1].islower():
        text = text[0].lower() + text[1:]
    return text
