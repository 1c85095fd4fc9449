"""A minimal blocking Kafka wire client used to tell when a reference broker is ready.

The harness must not depend on the code under test (`brook_broker.protocol`) nor on a client
library's bootstrap quirks, so it speaks the few requests it needs by hand: ApiVersions v0 and
Metadata v4 (non-flexible), and DescribeQuorum v0 (flexible: compact types and tagged fields) to
find the active KRaft controller. Works against Brook as well as Kafka.
"""

from __future__ import annotations

import socket
import struct
from dataclasses import dataclass

API_VERSIONS = 18
METADATA = 3
DESCRIBE_QUORUM = 55
_CLIENT_ID = b"brook-kafka-ref"


class WireError(RuntimeError):
    """The peer closed the connection or sent something that is not the expected response."""


@dataclass(frozen=True)
class ApiRange:
    api_key: int
    min_version: int
    max_version: int


@dataclass(frozen=True)
class BrokerInfo:
    node_id: int
    host: str
    port: int
    rack: str | None


@dataclass(frozen=True)
class QuorumInfo:
    leader_id: int
    leader_epoch: int
    high_watermark: int


@dataclass(frozen=True)
class ClusterInfo:
    cluster_id: str | None
    controller_id: int
    brokers: tuple[BrokerInfo, ...]


class _Reader:
    def __init__(self, data: bytes) -> None:
        self._data = data
        self._pos = 0

    def _take(self, fmt: str) -> tuple[int, ...]:
        size = struct.calcsize(fmt)
        if self._pos + size > len(self._data):
            raise WireError("truncated response")
        values = struct.unpack_from(fmt, self._data, self._pos)
        self._pos += size
        return values

    def int16(self) -> int:
        return self._take(">h")[0]

    def int32(self) -> int:
        return self._take(">i")[0]

    def nullable_string(self) -> str | None:
        length = self.int16()
        if length < 0:
            return None
        raw = self._data[self._pos : self._pos + length]
        self._pos += length
        return raw.decode("utf-8")

    def unsigned_varint(self) -> int:
        value = shift = 0
        while True:
            (byte,) = self._take(">B")
            value |= (byte & 0x7F) << shift
            if not byte & 0x80:
                return value
            shift += 7

    def compact_string(self) -> str:
        length = self.unsigned_varint() - 1
        raw = self._data[self._pos : self._pos + length]
        self._pos += length
        return raw.decode("utf-8")

    def skip_tagged_fields(self) -> None:
        for _ in range(self.unsigned_varint()):
            self.unsigned_varint()  # tag
            self._pos += self.unsigned_varint()  # size, then the value we do not need

    def int64(self) -> int:
        return self._take(">q")[0]

    def string(self) -> str:
        value = self.nullable_string()
        if value is None:
            raise WireError("unexpected null string")
        return value


def _recv_exact(sock: socket.socket, size: int) -> bytes:
    chunks = bytearray()
    while len(chunks) < size:
        chunk = sock.recv(size - len(chunks))
        if not chunk:
            raise WireError("connection closed by broker")
        chunks += chunk
    return bytes(chunks)


def _round_trip(
    host: str,
    port: int,
    *,
    api_key: int,
    api_version: int,
    body: bytes,
    timeout: float,
    flexible: bool = False,
) -> _Reader:
    correlation_id = 1
    # Request header v1: api_key, api_version, correlation_id, client_id (nullable string);
    # v2 (flexible APIs) adds an empty tagged-field section.
    header = struct.pack(">hhih", api_key, api_version, correlation_id, len(_CLIENT_ID)) + _CLIENT_ID
    payload = header + (b"\x00" if flexible else b"") + body
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.sendall(struct.pack(">i", len(payload)) + payload)
        (size,) = struct.unpack(">i", _recv_exact(sock, 4))
        reader = _Reader(_recv_exact(sock, size))
    if reader.int32() != correlation_id:
        raise WireError("correlation id mismatch")
    if flexible:
        reader.skip_tagged_fields()  # response header v1
    return reader


def api_versions(host: str, port: int, *, timeout: float = 5.0) -> list[ApiRange]:
    """ApiVersions v0: the (api_key, min, max) ranges the broker advertises."""
    reader = _round_trip(host, port, api_key=API_VERSIONS, api_version=0, body=b"", timeout=timeout)
    error_code = reader.int16()
    if error_code != 0:
        raise WireError(f"ApiVersions error code {error_code}")
    return [ApiRange(reader.int16(), reader.int16(), reader.int16()) for _ in range(reader.int32())]


def cluster_info(host: str, port: int, *, timeout: float = 5.0) -> ClusterInfo:
    """Metadata v4 for no topics: the live (registered, unfenced) brokers.

    Its controller_id is what Kafka tells clients: in KRaft a random live broker, not the active
    controller (use describe_quorum() for that).
    """
    # topics: empty array (not null, which would mean "all topics"); allow_auto_topic_creation=false.
    body = struct.pack(">ib", 0, 0)
    reader = _round_trip(host, port, api_key=METADATA, api_version=4, body=body, timeout=timeout)
    reader.int32()  # throttle_time_ms
    brokers = tuple(
        BrokerInfo(
            node_id=reader.int32(), host=reader.string(), port=reader.int32(), rack=reader.nullable_string()
        )
        for _ in range(reader.int32())
    )
    cluster_id = reader.nullable_string()
    controller_id = reader.int32()
    return ClusterInfo(cluster_id=cluster_id, controller_id=controller_id, brokers=brokers)


def describe_quorum(host: str, port: int, *, timeout: float = 5.0) -> QuorumInfo:
    """DescribeQuorum v0 for __cluster_metadata-0: the active controller (Raft leader) and epoch.

    Metadata's controller_id cannot tell this: in KRaft, brokers report a random live broker there.
    Brokers forward this request to the controller quorum.
    """
    topic = b"__cluster_metadata"
    # topics: compact array of 1 {name: compact string, partitions: [{index: 0, tags}], tags}, tags
    body = bytes([2, len(topic) + 1]) + topic + bytes([2]) + struct.pack(">i", 0) + bytes([0, 0, 0])
    reader = _round_trip(
        host, port, api_key=DESCRIBE_QUORUM, api_version=0, body=body, timeout=timeout, flexible=True
    )
    error_code = reader.int16()
    if error_code != 0:
        raise WireError(f"DescribeQuorum error code {error_code}")
    if reader.unsigned_varint() - 1 < 1:
        raise WireError("DescribeQuorum returned no topics")
    reader.compact_string()  # topic name
    if reader.unsigned_varint() - 1 < 1:
        raise WireError("DescribeQuorum returned no partitions")
    reader.int32()  # partition index
    partition_error = reader.int16()
    if partition_error != 0:
        raise WireError(f"DescribeQuorum partition error code {partition_error}")
    return QuorumInfo(leader_id=reader.int32(), leader_epoch=reader.int32(), high_watermark=reader.int64())
