"""Pure pieces of the client commands: output format, error lines, bootstrap parsing, versions."""

from __future__ import annotations

import dataclasses

import pytest
from kio.schema.errors import ErrorCode
from kio.schema.metadata.v12.request import MetadataRequest
from kio.schema.metadata.v12.response import MetadataResponse

from brook_broker.cli.client import KafkaApiError
from brook_broker.cli.connection import parse_bootstrap
from brook_broker.cli.consume import MessageFormatter
from brook_broker.cli.kio_transport import KioRequest, UnsupportedApiVersionError
from brook_broker.cli.topics import format_topic_id


@dataclasses.dataclass
class Record:
    """The fields of aiokafka's ConsumerRecord that the formatter reads."""

    value: bytes | None = b"v"
    key: bytes | None = b"k"
    partition: int = 2
    offset: int = 41
    timestamp: int = 1_700_000_000_000
    timestamp_type: int = 0
    headers: tuple[tuple[str, bytes | None], ...] = ()


def test_value_alone_by_default() -> None:
    assert MessageFormatter().format(Record()) == b"v\n"


def test_every_field_in_kafkas_order() -> None:
    formatter = MessageFormatter(key=True, partition=True, offset=True, headers=True, timestamp=True)
    record = Record(headers=(("a", b"1"), ("b", None)))
    assert formatter.format(record) == b"CreateTime:1700000000000\tPartition:2\tOffset:41\ta:1,b:null\tk\tv\n"


def test_nulls_log_append_time_and_separator() -> None:
    formatter = MessageFormatter(key=True, headers=True, timestamp=True, separator=b"|")
    record = Record(key=None, value=None, timestamp_type=1)
    assert formatter.format(record) == b"LogAppendTime:1700000000000|NO_HEADERS|null|null\n"


def test_binary_values_pass_through() -> None:
    assert MessageFormatter().format(Record(value=b"\xff\x00")) == b"\xff\x00\n"


@pytest.mark.parametrize(
    ("error", "line"),
    [
        (
            KafkaApiError(ErrorCode.topic_already_exists, "Topic 'x' already exists.", name="x"),
            "topic 'x' already exists (TOPIC_ALREADY_EXISTS)",
        ),
        (
            KafkaApiError(
                ErrorCode.unknown_topic_or_partition,
                "This server does not host this topic-partition.",
                name="x",
            ),
            "topic 'x' does not exist (UNKNOWN_TOPIC_OR_PARTITION)",
        ),
        (
            KafkaApiError(
                ErrorCode.invalid_config, "Invalid value abc for configuration retention.ms", name="t"
            ),
            "topic 't': invalid value abc for configuration retention.ms (INVALID_CONFIG)",
        ),
        (
            KafkaApiError(ErrorCode.invalid_partitions, "Topic t has 3 partitions", name="t"),
            "topic t has 3 partitions (INVALID_PARTITIONS)",
        ),
        (
            KafkaApiError(ErrorCode.policy_violation, None, name="t"),
            "topic 't': request parameters do not satisfy the configured policy (POLICY_VIOLATION)",
        ),
        (KafkaApiError(ErrorCode.unsupported_version, "KRaft only"), "KRaft only (UNSUPPORTED_VERSION)"),
    ],
)
def test_error_lines(error: KafkaApiError, line: str) -> None:
    assert str(error) == line


@pytest.mark.parametrize(
    ("text", "servers"),
    [
        ("127.0.0.1:9092", [("127.0.0.1", 9092)]),
        ("a:1,b:2", [("a", 1), ("b", 2)]),
        ("[::1]:9093", [("::1", 9093)]),
    ],
)
def test_bootstrap(text: str, servers: list[tuple[str, int]]) -> None:
    assert parse_bootstrap(text) == servers


@pytest.mark.parametrize("text", ["localhost", ":9092", "host:", "host:port", "host:70000", "a:1,b"])
def test_bad_bootstrap(text: str) -> None:
    with pytest.raises(ValueError, match="HOST:PORT"):
        parse_bootstrap(text)


def test_topic_id_is_kafkas_base64() -> None:
    import uuid

    assert format_topic_id(uuid.UUID("c8a6a9a4-a0b5-4f5e-9bef-24dfc0a5f754")) == "yKappKC1T16b7yTfwKX3VA"
    assert format_topic_id(None) == format_topic_id(uuid.UUID(int=0)) == "-"


def test_request_version_is_checked_against_the_broker() -> None:
    request = KioRequest(
        MetadataRequest(
            topics=None, allow_auto_topic_creation=False, include_topic_authorized_operations=False
        ),
        MetadataResponse,
    )
    assert request.prepare({3: (0, 12)}).API_VERSION == 12
    with pytest.raises(UnsupportedApiVersionError, match="serves Metadata v0-v9; this client needs v12"):
        request.prepare({3: (0, 9)})
    with pytest.raises(UnsupportedApiVersionError, match="does not serve Metadata"):
        request.prepare({})


CLIENT_MODULES = ["client", "common", "connection", "consume", "kio_transport", "produce", "topics"]


def test_client_commands_stay_off_the_broker() -> None:
    """The client commands talk to brokers over the wire only: no server, log, apis, ... imports."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        + "".join(f"import brook_broker.cli.{name}\n" for name in CLIENT_MODULES)
        + "print(sorted(m for m in sys.modules if m.startswith('brook_broker.')"
        + " and not m.startswith('brook_broker.cli')))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert result.stdout.strip() == "[]"
