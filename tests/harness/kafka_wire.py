"""Raw Kafka requests over a blocking socket, encoded and decoded with kio, for tests that need the bytes.

Client libraries hide exactly what some integration tests are about: several requests
pipelined on one connection, the same idempotent batch sent twice, a corrupt CRC, a frame
that is not Kafka at all. `KafkaWire` sends kio request entities (request header v1 or v2 by
the version's flexibility), remembers what it sent, and decodes each response with the class
that matches its correlation id (response header v0 for ApiVersions, as KIP-511 wants, else
by flexibility). It can also send arbitrary frames and bytes, and tell when the broker hung up.

`new_batch` builds an uncompressed record batch v2 with kio's record writer (producer id,
epoch and sequence included, so a test can play an idempotent producer), and `read_batches`
reads batch headers back from fetched bytes.

Like `harness.wire`, this module does not import `brook_broker`: tests judge the broker
through the protocol only. `harness.wire` is the tiny hand-written probe the reference-Kafka
harness uses for readiness; this is the general tool.
"""

from __future__ import annotations

import datetime
import importlib
import io
import itertools
import select
import socket
import struct
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple, Self

from kio.records.schema import NewRecordBatch, Record, RecordHeader
from kio.records.writers import write_new_batch
from kio.schema.fetch.v12.request import FetchPartition, FetchRequest, FetchTopic
from kio.schema.init_producer_id.v4.request import InitProducerIdRequest
from kio.schema.list_offsets.v7.request import ListOffsetsPartition, ListOffsetsRequest, ListOffsetsTopic
from kio.schema.metadata.v12.request import MetadataRequest, MetadataRequestTopic
from kio.schema.produce.v9.request import PartitionProduceData, ProduceRequest, TopicProduceData
from kio.schema.request_header.v1.header import RequestHeader as RequestHeaderV1
from kio.schema.request_header.v2.header import RequestHeader as RequestHeaderV2
from kio.schema.response_header.v0.header import ResponseHeader as ResponseHeaderV0
from kio.schema.response_header.v1.header import ResponseHeader as ResponseHeaderV1
from kio.schema.types import BrokerId, TopicName
from kio.serial import entity_reader, entity_writer
from kio.static.primitive import Records, TZAwareMicros, i8, i16, i32, i32Timedelta, i64

API_VERSIONS_KEY = 18
CLIENT_ID = "brook-integration"
_SIZE = struct.Struct(">i")
_HEADER_PREFIX = struct.Struct(">hhi")


class WireError(RuntimeError):
    """The broker closed the connection, timed out, or answered something we did not ask for."""


@dataclass(frozen=True, slots=True)
class Response:
    correlation_id: int
    body: Any


def response_type(request_type: type[Any]) -> type[Any]:
    """The kio response class of the same API and version as ``request_type``."""
    package = request_type.__module__.rsplit(".", 1)[0]
    module = importlib.import_module(f"{package}.response")
    cls = getattr(module, request_type.__name__.removesuffix("Request") + "Response")
    assert isinstance(cls, type)
    return cls


def encode_request(request: Any, *, correlation_id: int, client_id: str | None = CLIENT_ID) -> bytes:
    """One request frame without its size prefix: header v1 or v2 (by flexibility), then the body."""
    buf = io.BytesIO()
    header_type: type[Any] = RequestHeaderV2 if request.__flexible__ else RequestHeaderV1
    header = header_type(
        request_api_key=i16(request.__api_key__),
        request_api_version=i16(request.__version__),
        correlation_id=i32(correlation_id),
        client_id=client_id,
    )
    entity_writer(header_type)(buf, header)
    entity_writer(type(request))(buf, request)
    return buf.getvalue()


def decode_response(frame: bytes, response_cls: type[Any]) -> Response:
    """Decode a response frame (no size prefix) whose body is a ``response_cls``."""
    flexible = response_cls.__flexible__ and response_cls.__api_key__ != API_VERSIONS_KEY
    header_cls: type[Any] = ResponseHeaderV1 if flexible else ResponseHeaderV0
    header, offset = entity_reader(header_cls)(frame, 0)
    body, size = entity_reader(response_cls)(frame, offset)
    if offset + size != len(frame):
        raise WireError(f"{len(frame) - offset - size} trailing bytes after a {response_cls.__name__}")
    return Response(int(header.correlation_id), body)


def request_header_v1(
    api_key: int, api_version: int, correlation_id: int, client_id: str = CLIENT_ID
) -> bytes:
    """A hand-made request header v1, for keys and versions kio has no class for."""
    raw_id = client_id.encode()
    return _HEADER_PREFIX.pack(api_key, api_version, correlation_id) + struct.pack(">h", len(raw_id)) + raw_id


class KafkaWire:
    """One blocking connection to a broker. Not thread-safe; one per test or thread."""

    def __init__(self, sock: socket.socket, *, timeout_s: float) -> None:
        self._sock = sock
        self._timeout_s = timeout_s
        self._correlation_ids = itertools.count(1)
        #: correlation id -> response class, for requests sent and not yet answered.
        self._pending: dict[int, type[Any]] = {}

    @classmethod
    def connect(cls, bootstrap: str, *, timeout_s: float = 15.0) -> Self:
        host, port = bootstrap.rsplit(":", 1)
        sock = socket.create_connection((host, int(port)), timeout=timeout_s)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return cls(sock, timeout_s=timeout_s)

    def close(self) -> None:
        self._sock.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- sending ----------------------------------------------------------------------

    def send(self, request: Any, *, expect_response: bool = True) -> int:
        """Send a kio request entity; returns its correlation id."""
        correlation_id = next(self._correlation_ids)
        if expect_response:
            self._pending[correlation_id] = response_type(type(request))
        self.send_frame(encode_request(request, correlation_id=correlation_id))
        return correlation_id

    def send_frame(self, payload: bytes) -> None:
        """Send ``payload`` with a size prefix (whatever it contains)."""
        self.send_bytes(_SIZE.pack(len(payload)) + payload)

    def send_bytes(self, data: bytes) -> None:
        """Send raw bytes, no framing."""
        self._sock.sendall(data)

    # --- receiving --------------------------------------------------------------------

    def receive_frame(self) -> bytes:
        (size,) = _SIZE.unpack(self._recv_exact(4))
        return self._recv_exact(size)

    def receive(self) -> Response:
        """The next response on the connection, decoded by the request it answers."""
        frame = self.receive_frame()
        (correlation_id,) = struct.unpack_from(">i", frame, 0)
        response_cls = self._pending.pop(correlation_id, None)
        if response_cls is None:
            raise WireError(f"response with unexpected correlation id {correlation_id}")
        return decode_response(frame, response_cls)

    def request(self, request: Any) -> Any:
        """Send and wait for the answer; returns the response body."""
        correlation_id = self.send(request)
        response = self.receive()
        if response.correlation_id != correlation_id:
            raise WireError(f"answer to {response.correlation_id} arrived before {correlation_id}")
        return response.body

    def wait_closed(self, *, timeout_s: float = 10.0) -> bool:
        """True once the broker has closed the connection (EOF or reset), False if it stays open."""
        deadline = time.monotonic() + timeout_s
        # poll(), not select(): select cannot watch descriptors above 1024.
        poller = select.poll()
        poller.register(self._sock, select.POLLIN)
        while (remaining := deadline - time.monotonic()) > 0:
            if not poller.poll(remaining * 1000):
                continue
            try:
                if not self._sock.recv(65536):
                    return True
            except (ConnectionResetError, BrokenPipeError):
                return True
        return False

    def _recv_exact(self, size: int) -> bytes:
        chunks = bytearray()
        self._sock.settimeout(self._timeout_s)
        while len(chunks) < size:
            try:
                chunk = self._sock.recv(size - len(chunks))
            except TimeoutError:
                raise WireError(f"no response within {self._timeout_s}s") from None
            except ConnectionResetError:
                chunk = b""
            if not chunk:
                raise WireError("connection closed by broker")
            chunks += chunk
        return bytes(chunks)


# --- record batches -----------------------------------------------------------------------

NO_PRODUCER_ID = -1
NO_PRODUCER_EPOCH = -1
NO_SEQUENCE = -1
#: Offsets inside a record batch v2 (Kafka's DefaultRecordBatch).
CRC_OFFSET = 17
ATTRIBUTES_OFFSET = 21


class BatchHeader(NamedTuple):
    base_offset: int
    batch_length: int
    partition_leader_epoch: int
    magic: int
    crc: int
    attributes: int
    last_offset_delta: int
    base_timestamp: int
    max_timestamp: int
    producer_id: int
    producer_epoch: int
    base_sequence: int
    records_count: int

    @property
    def last_offset(self) -> int:
        return self.base_offset + self.last_offset_delta

    @property
    def size(self) -> int:
        return 12 + self.batch_length


_BATCH_HEADER = struct.Struct(">qiibIhiqqqhii")


def new_batch(
    values: Sequence[bytes],
    *,
    keys: Sequence[bytes | None] | None = None,
    timestamp_ms: int | None = None,
    timestamps_ms: Sequence[int] | None = None,
    headers: Sequence[tuple[bytes, bytes]] = ((b"h", b"v"),),
    producer_id: int = NO_PRODUCER_ID,
    producer_epoch: int = NO_PRODUCER_EPOCH,
    base_sequence: int = NO_SEQUENCE,
) -> bytes:
    """An uncompressed record batch v2 (base offset 0) as a producer would send it.

    Every record gets ``timestamp_ms`` (default: now) unless ``timestamps_ms`` gives one per
    record (CreateTime), and the same ``headers``.
    """
    now_ms = int(time.time() * 1000) if timestamp_ms is None else timestamp_ms
    stamps = [now_ms] * len(values) if timestamps_ms is None else list(timestamps_ms)
    record_headers = tuple(RecordHeader(key=key, value=value) for key, value in headers)
    records = tuple(
        Record(
            attributes=i8(0),
            timestamp=TZAwareMicros.parse(
                datetime.datetime.fromtimestamp(stamps[index] / 1000, tz=datetime.UTC)
            ),
            offset=i64(index),
            key=None if keys is None else keys[index],
            value=value,
            headers=record_headers,
        )
        for index, value in enumerate(values)
    )
    buf = io.BytesIO()
    write_new_batch(
        buf,
        NewRecordBatch(
            producer_id=i64(producer_id),
            producer_epoch=i16(producer_epoch),
            base_sequence=i32(base_sequence),
            records=records,
            attributes=i16(0),
        ),
    )
    return buf.getvalue()


def read_batches(data: bytes) -> list[BatchHeader]:
    """Headers of the whole batches in ``data`` (a fetch may end with a partial one; it is skipped)."""
    headers = []
    position = 0
    while position + _BATCH_HEADER.size <= len(data):
        header = BatchHeader(*_BATCH_HEADER.unpack_from(data, position))
        if position + header.size > len(data):
            break
        headers.append(header)
        position += header.size
    return headers


# --- requests tests build often ------------------------------------------------------------
# Fixed versions, all flexible (header v2) except where a test needs an old one: the shapes
# librdkafka and the Java client send.


def ms(value: int) -> i32Timedelta:
    """A duration field (timeouts, waits) of ``value`` milliseconds."""
    return i32Timedelta.parse(datetime.timedelta(milliseconds=value))


def produce_request(
    topic: str, records: bytes, *, partition: int = 0, acks: int = -1, timeout_ms: int = 10_000
) -> ProduceRequest:
    """Produce v9: one partition, the given batch bytes."""
    return ProduceRequest(
        acks=i16(acks),
        timeout=ms(timeout_ms),
        topic_data=(
            TopicProduceData(
                name=TopicName(topic),
                partition_data=(PartitionProduceData(index=i32(partition), records=Records(records)),),
            ),
        ),
    )


def fetch_request(
    topic: str,
    *,
    offset: int,
    partition: int = 0,
    max_wait_ms: int = 0,
    min_bytes: int = 1,
    max_bytes: int = 1 << 20,
) -> FetchRequest:
    """Fetch v12 (topics by name, no session) for one partition."""
    return FetchRequest(
        max_wait=ms(max_wait_ms),
        min_bytes=i32(min_bytes),
        max_bytes=i32(max_bytes),
        topics=(
            FetchTopic(
                topic=TopicName(topic),
                partitions=(
                    FetchPartition(
                        partition=i32(partition), fetch_offset=i64(offset), partition_max_bytes=i32(max_bytes)
                    ),
                ),
            ),
        ),
        forgotten_topics_data=(),
    )


def metadata_request(*topics: str, auto_create: bool = False) -> MetadataRequest:
    """Metadata v12 for the named topics (none named: no topics, just brokers)."""
    return MetadataRequest(
        topics=tuple(MetadataRequestTopic(topic_id=None, name=TopicName(t)) for t in topics),
        allow_auto_topic_creation=auto_create,
        include_topic_authorized_operations=False,
    )


EARLIEST_TIMESTAMP = -2
LATEST_TIMESTAMP = -1
MAX_TIMESTAMP = -3


def list_offsets_request(topic: str, timestamp: int, *, partition: int = 0) -> ListOffsetsRequest:
    """ListOffsets v7 as a consumer (replica id -1, read uncommitted)."""
    return ListOffsetsRequest(
        replica_id=BrokerId(-1),
        isolation_level=i8(0),
        topics=(
            ListOffsetsTopic(
                name=TopicName(topic),
                partitions=(ListOffsetsPartition(partition_index=i32(partition), timestamp=i64(timestamp)),),
            ),
        ),
    )


def init_producer_id_request() -> InitProducerIdRequest:
    """InitProducerId v4 for an idempotent (not transactional) producer."""
    return InitProducerIdRequest(transactional_id=None, transaction_timeout=ms(60_000))


# --- consumer group payloads (the "consumer" protocol type's JoinGroup/SyncGroup metadata) --------


def subscription(*topics: str) -> bytes:
    """ConsumerProtocolSubscription v0: the topics, null user data."""
    out = struct.pack(">hi", 0, len(topics))
    for topic in topics:
        out += struct.pack(">h", len(topic)) + topic.encode()
    return out + struct.pack(">i", -1)


def assignment(topic: str, partitions: Sequence[int]) -> bytes:
    """ConsumerProtocolAssignment v0: one topic's partitions, null user data."""
    out = struct.pack(">hi", 0, 1) + struct.pack(">h", len(topic)) + topic.encode()
    out += struct.pack(">i", len(partitions)) + b"".join(struct.pack(">i", p) for p in partitions)
    return out + struct.pack(">i", -1)


# --- one-partition round trips ---------------------------------------------------------------


def produce(wire: KafkaWire, topic: str, records: bytes, *, partition: int = 0, acks: int = -1) -> Any:
    """Produce one partition's batches; returns its PartitionProduceResponse (error code, base offset)."""
    response = wire.request(produce_request(topic, records, partition=partition, acks=acks))
    return response.responses[0].partition_responses[0]


def fetch(wire: KafkaWire, topic: str, *, offset: int, partition: int = 0, max_wait_ms: int = 0) -> Any:
    """Fetch one partition; returns its PartitionData (error code, high watermark, records)."""
    response = wire.request(fetch_request(topic, offset=offset, partition=partition, max_wait_ms=max_wait_ms))
    return response.responses[0].partitions[0]


def fetch_batches(wire: KafkaWire, topic: str, *, offset: int = 0, partition: int = 0) -> list[BatchHeader]:
    """The headers of the batches a fetch from ``offset`` returns (up to 1 MiB)."""
    data = fetch(wire, topic, offset=offset, partition=partition)
    if data.error_code != 0:
        raise WireError(f"fetch {topic}-{partition}@{offset} failed with error {data.error_code}")
    return read_batches(bytes(data.records or b""))


def list_offset(wire: KafkaWire, topic: str, timestamp: int, *, partition: int = 0) -> tuple[int, int]:
    """ListOffsets for one partition: ``(offset, timestamp)``; raises on an error code."""
    response = wire.request(list_offsets_request(topic, timestamp, partition=partition))
    found = response.topics[0].partitions[0]
    if found.error_code != 0:
        raise WireError(
            f"ListOffsets {topic}-{partition} at {timestamp} failed with error {found.error_code}"
        )
    return int(found.offset), int(found.timestamp)
