"""Bad input: the broker refuses it the way Kafka does, and keeps serving everyone else.

Oversized frames, frames that are not Kafka, unknown API keys and unsupported versions end
the offending connection (Kafka cannot resynchronise a byte stream it does not understand);
a batch over ``max.message.bytes`` or with a broken CRC is refused with an error code on a
connection that stays usable; an ApiVersions request of a version the broker does not know
gets KIP-511's v0 answer. After each, a second connection that was open all along and a
fresh client still work, and the broker log holds no traceback.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Iterator

import pytest
from confluent_kafka import KafkaError, Producer
from kio.schema.api_versions.v0.response import ApiVersionsResponse as ApiVersionsResponseV0
from kio.schema.api_versions.v3.request import ApiVersionsRequest

from harness.brook import BrookProcess
from harness.kafka_clients import Message, consume_confluent, create_topic, produce_confluent
from harness.kafka_wire import (
    CRC_OFFSET,
    LATEST_TIMESTAMP,
    KafkaWire,
    decode_response,
    list_offset,
    metadata_request,
    new_batch,
    produce,
    produce_request,
    request_header_v1,
)

pytestmark = pytest.mark.xdist_group("tuned_brook")

CORRUPT_MESSAGE = 2
MESSAGE_TOO_LARGE = 10
UNSUPPORTED_VERSION = 35
API_VERSIONS = 18
PRODUCE = 0


@pytest.fixture
def bystander(tuned_brook: BrookProcess) -> Iterator[KafkaWire]:
    """A connection opened before the bad input and checked after it: the broker still answers it."""
    with KafkaWire.connect(tuned_brook.bootstrap) as wire:
        assert wire.request(metadata_request()).brokers
        yield wire
        response = wire.request(metadata_request())
        assert [b.node_id for b in response.brokers] == [1], "the bystander connection still works"
    assert "Traceback" not in tuned_brook.log_path.read_text(), tuned_brook.log_tail()


def _still_serves(brook: BrookProcess, topic: str) -> None:
    """A fresh librdkafka client can produce and read back."""
    create_topic(brook.bootstrap, topic)
    assert produce_confluent(brook.bootstrap, topic, [Message(value=b"ok")]) == [0]
    assert [r.value for r in consume_confluent(brook.bootstrap, topic, 1)] == [b"ok"]


def test_oversized_request_closes_only_that_connection(
    tuned_brook: BrookProcess, bystander: KafkaWire, unique_topic: str
) -> None:
    """A frame larger than socket.request.max.bytes closes the connection before the body is read."""
    limit = int(tuned_brook.overrides["socket.request.max.bytes"])
    with KafkaWire.connect(tuned_brook.bootstrap) as wire:
        wire.send_bytes(struct.pack(">i", limit + 1) + os.urandom(64 * 1024))
        assert wire.wait_closed(), "the broker closed the connection"
    _still_serves(tuned_brook, unique_topic)


@pytest.mark.parametrize(
    "frame",
    [
        pytest.param(os.urandom(200), id="random-bytes"),
        pytest.param(b"\x00", id="shorter-than-a-header"),
        pytest.param(request_header_v1(999, 0, 1), id="unknown-api-key"),
        pytest.param(request_header_v1(PRODUCE, 99, 1), id="produce-v99"),
        pytest.param(request_header_v1(PRODUCE, 2, 1), id="produce-v2-below-minimum"),
        pytest.param(request_header_v1(3, 1, 1) + b"\xff\xff\xff\x7f", id="metadata-huge-array"),
    ],
)
def test_unparseable_requests_close_the_connection(
    tuned_brook: BrookProcess, bystander: KafkaWire, unique_topic: str, frame: bytes
) -> None:
    """Garbage, an unknown API key, a version outside the advertised range, a body that does not
    parse: the broker hangs up on that connection (as Kafka does) and logs no traceback."""
    with KafkaWire.connect(tuned_brook.bootstrap) as wire:
        wire.send_frame(frame)
        assert wire.wait_closed(), "the broker closed the connection"
    _still_serves(tuned_brook, unique_topic)


def test_negative_frame_size_closes_the_connection(tuned_brook: BrookProcess, bystander: KafkaWire) -> None:
    """A negative size prefix cannot be framed; the connection is closed."""
    with KafkaWire.connect(tuned_brook.bootstrap) as wire:
        wire.send_bytes(struct.pack(">i", -5) + b"abcde")
        assert wire.wait_closed()


def test_too_new_api_versions_gets_a_v0_answer(tuned_brook: BrookProcess, bystander: KafkaWire) -> None:
    """KIP-511: ApiVersions v99 is answered in v0 format with UNSUPPORTED_VERSION and ApiVersions'
    supported range (as Kafka 4.3.1 answers), on a connection that stays open, so the client can
    retry with a version from that range and get the full list."""
    with KafkaWire.connect(tuned_brook.bootstrap) as wire:
        wire.send_frame(request_header_v1(API_VERSIONS, 99, 7) + b"\x00\x01\x02")  # a body from the future
        response = decode_response(wire.receive_frame(), ApiVersionsResponseV0)
        assert response.correlation_id == 7
        assert response.body.error_code == UNSUPPORTED_VERSION
        # Kafka lists only ApiVersions' own range here: all a client needs to retry.
        ranges = {k.api_key: (k.min_version, k.max_version) for k in response.body.api_keys}
        assert API_VERSIONS in ranges and ranges[API_VERSIONS][0] == 0 and ranges[API_VERSIONS][1] >= 3
        retried = wire.request(
            ApiVersionsRequest(client_software_name="brook-it", client_software_version="1")
        )
        assert retried.error_code == 0
        full = {k.api_key: (k.min_version, k.max_version) for k in retried.api_keys}
        assert full[API_VERSIONS] == ranges[API_VERSIONS]
        assert {PRODUCE, 1, 3} <= set(full)  # Produce, Fetch, Metadata


def test_batch_over_max_message_bytes(
    tuned_brook: BrookProcess, bystander: KafkaWire, unique_topic: str
) -> None:
    """A batch larger than the topic's max.message.bytes is MESSAGE_TOO_LARGE (raw and through
    librdkafka), nothing is written, and the connection keeps working."""
    create_topic(tuned_brook.bootstrap, unique_topic, config={"max.message.bytes": "10000"})
    with KafkaWire.connect(tuned_brook.bootstrap) as wire:
        assert produce(wire, unique_topic, new_batch([b"x" * 20_000])).error_code == MESSAGE_TOO_LARGE
        assert produce(wire, unique_topic, new_batch([b"x" * 5_000])).error_code == 0
        assert list_offset(wire, unique_topic, LATEST_TIMESTAMP)[0] == 1

    producer = Producer(
        {"bootstrap.servers": tuned_brook.bootstrap, "retries": 0, "enable.idempotence": False}
    )
    errors: list[KafkaError | None] = []
    producer.produce(unique_topic, b"y" * 20_000, partition=0, on_delivery=lambda err, _m: errors.append(err))
    assert producer.flush(15) == 0
    assert [e.code() if e else None for e in errors] == [KafkaError.MSG_SIZE_TOO_LARGE]


@pytest.mark.parametrize("where", ["crc-field", "record-bytes"])
def test_corrupt_crc_is_refused(
    tuned_brook: BrookProcess, bystander: KafkaWire, unique_topic: str, where: str
) -> None:
    """A batch whose CRC-32C does not match is CORRUPT_MESSAGE and is not written; the same
    connection then produces normally."""
    create_topic(tuned_brook.bootstrap, unique_topic)
    batch = bytearray(new_batch([b"payload-1", b"payload-2"], keys=[b"a", b"b"]))
    position = CRC_OFFSET if where == "crc-field" else len(batch) - 5
    batch[position] ^= 0xFF
    with KafkaWire.connect(tuned_brook.bootstrap) as wire:
        assert produce(wire, unique_topic, bytes(batch)).error_code == CORRUPT_MESSAGE
        assert list_offset(wire, unique_topic, LATEST_TIMESTAMP)[0] == 0
        assert produce(wire, unique_topic, new_batch([b"good"])).base_offset == 0


def test_failed_acks_0_produce_closes_the_connection(
    tuned_brook: BrookProcess, bystander: KafkaWire, unique_topic: str
) -> None:
    """With acks=0 there is no response to carry an error, so (as in Kafka) the broker closes the
    connection to tell the producer something went wrong; nothing is written."""
    create_topic(tuned_brook.bootstrap, unique_topic)
    batch = bytearray(new_batch([b"payload"]))
    batch[CRC_OFFSET] ^= 0xFF
    with KafkaWire.connect(tuned_brook.bootstrap) as wire:
        wire.send(produce_request(unique_topic, bytes(batch), acks=0), expect_response=False)
        assert wire.wait_closed()
    assert list_offset(bystander, unique_topic, LATEST_TIMESTAMP)[0] == 0


def test_client_disconnecting_mid_frame(
    tuned_brook: BrookProcess, bystander: KafkaWire, unique_topic: str
) -> None:
    """A client that sends half a frame and vanishes leaves no trace but a closed connection."""
    with KafkaWire.connect(tuned_brook.bootstrap) as wire:
        wire.send_bytes(struct.pack(">i", 1000) + b"\x00" * 10)
    _still_serves(tuned_brook, unique_topic)
