"""`iter_records` on batches encoded by librdkafka (confluent-kafka), the raw-snappy writer.

librdkafka's built-in mock cluster (``test.mock.num.brokers``) stores produced batches as
sent; a Fetch v4, written with kio over a plain socket, reads them back unchanged.
"""

from __future__ import annotations

import datetime
import io
import socket
import struct

import pytest
from kio.schema.fetch.v4.request import FetchPartition, FetchRequest, FetchTopic
from kio.schema.fetch.v4.response import FetchResponse
from kio.schema.request_header.v1.header import RequestHeader
from kio.schema.response_header.v0.header import ResponseHeader
from kio.serial import entity_reader, entity_writer
from kio.static.primitive import i32, i32Timedelta, i64

from brook_broker.protocol.record_reader import Record, iter_records
from brook_broker.protocol.records import CompressionType, iter_batches, read_header

confluent_kafka = pytest.importorskip("confluent_kafka")

TOPIC = "snappy-test"


def _fetch_raw(host: str, port: int, topic: str, offset: int) -> bytes:
    request = FetchRequest(
        max_wait=i32Timedelta.parse(datetime.timedelta(milliseconds=100)),
        min_bytes=i32(1),
        topics=(
            FetchTopic(
                topic=topic,  # type: ignore[arg-type]
                partitions=(
                    FetchPartition(
                        partition=i32(0), fetch_offset=i64(offset), partition_max_bytes=i32(1 << 20)
                    ),
                ),
            ),
        ),
    )
    buf = io.BytesIO()
    entity_writer(RequestHeader)(
        buf, RequestHeader(request_api_key=1, request_api_version=4, correlation_id=7, client_id="t")
    )  # type: ignore[arg-type]
    entity_writer(FetchRequest)(buf, request)
    frame = buf.getvalue()
    with socket.create_connection((host, port), timeout=10) as sock:
        sock.sendall(struct.pack(">i", len(frame)) + frame)
        data = b""
        while len(data) < 4 or len(data) < 4 + struct.unpack(">i", data[:4])[0]:
            chunk = sock.recv(1 << 16)
            assert chunk, "mock broker closed the connection"
            data += chunk
    _, offset = entity_reader(ResponseHeader)(data, 4)
    response, _ = entity_reader(FetchResponse)(data, 4 + offset)
    records = response.responses[0].partitions[0].records
    assert records is not None
    return bytes(records)


@pytest.mark.parametrize("codec", ["snappy", "lz4", "zstd", "gzip", "none"])
def test_reads_librdkafka_batches(codec: str) -> None:
    producer = confluent_kafka.Producer(
        {"test.mock.num.brokers": 1, "compression.type": codec, "linger.ms": 100, "log_level": 0}
    )
    sent = [(f"k{i}".encode(), f"value {i} ".encode() * 40, [("h", b"x")]) for i in range(20)]
    for key, value, headers in sent:
        producer.produce(
            TOPIC, key=key, value=value, headers=headers, partition=0, timestamp=1_700_000_000_000
        )
    assert producer.flush(10) == 0
    broker = next(iter(producer.list_topics(timeout=5).brokers.values()))
    got: list[Record] = []
    # The mock broker answers a Fetch with one stored batch at a time: fetch until done.
    for _ in range(len(sent)):
        if len(got) == len(sent):
            break
        raw = _fetch_raw(broker.host, broker.port, TOPIC, len(got))
        batches = list(iter_batches(raw))
        assert batches
        if codec == "snappy":
            assert raw[61:69] != b"\x82SNAPPY\x00"  # librdkafka writes raw snappy, not snappy-java framing
        for position, header in batches:
            assert read_header(raw, position).compression == CompressionType[codec.upper()]
            got += iter_records(raw[position : position + header.size], verify_crc=True)
    assert [(r.offset, r.timestamp, r.key, r.value, r.headers) for r in got] == [
        (i, 1_700_000_000_000, k, v, tuple(h)) for i, (k, v, h) in enumerate(sent)
    ]
