"""`protocol.fetch_response` is proven byte for byte against kio's FetchResponse encoder.

For every version 4-18, hypothesis builds one response as plain data; kio's entity writer
(through `protocol.codec.encode_response`) encodes the same response built from kio's
generated classes, and the two frames must be identical. kio must also decode our frame
back to the same object. Records given as slices are checked by substituting their bytes.
"""

from __future__ import annotations

import dataclasses
import datetime
import importlib
import itertools
import uuid
from typing import Any, NamedTuple

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from kio.schema.errors import ErrorCode
from kio.serial import entity_reader
from kio.static.primitive import i32Timedelta

from brook_broker.protocol.codec import encode_response
from brook_broker.protocol.fetch_response import (
    INLINE_RECORDS_MAX,
    MAX_VERSION,
    MIN_VERSION,
    FetchPartitionData,
    FetchTopicData,
    NodeEndpoint,
    encode_fetch_response,
)

VERSIONS = range(MIN_VERSION, MAX_VERSION + 1)
INT32 = st.integers(-(2**31), 2**31 - 1)
INT64 = st.integers(-(2**63), 2**63 - 1)
ERROR_CODES = st.sampled_from([int(code) for code in ErrorCode])


class FileSlice(NamedTuple):
    """Stands in for the log layer's slice: a ``size`` and, for the test, the bytes it covers."""

    data: bytes

    @property
    def size(self) -> int:
        return len(self.data)


class BigRecords(bytes):
    """Records bytes with a short repr, so that hypothesis' failure reports stay readable."""

    def __repr__(self) -> str:
        return f"<{len(self)} bytes of records>"


def _records(n: int) -> bytes:
    return BigRecords(bytes(range(256)) * (n // 256) + bytes(range(n % 256)))


records_values = st.one_of(
    st.none(),
    st.binary(max_size=40),
    st.integers(INLINE_RECORDS_MAX - 2, INLINE_RECORDS_MAX + 300).map(_records),
)
pairs = st.none() | st.tuples(INT32, INT64)


@st.composite
def partitions(draw: st.DrawFn) -> FetchPartitionData:
    return FetchPartitionData(
        partition_index=draw(INT32),
        error_code=draw(ERROR_CODES),
        high_watermark=draw(INT64),
        last_stable_offset=draw(INT64),
        log_start_offset=draw(INT64),
        aborted_transactions=draw(st.none() | st.lists(st.tuples(INT64, INT64), max_size=3)),
        preferred_read_replica=draw(INT32),
        records=draw(records_values),
        diverging_epoch=draw(pairs | st.just((-1, -1))),
        current_leader=draw(st.none() | st.tuples(INT32, INT32)),
        snapshot_id=draw(st.none() | st.tuples(INT64, INT32)),
    )


topics = st.builds(
    FetchTopicData,
    name=st.text(max_size=20),
    topic_id=st.uuids().filter(lambda u: u.int != 0),
    partitions=st.lists(partitions(), max_size=4),
)
endpoints = st.builds(
    NodeEndpoint, node_id=INT32, host=st.text(max_size=15), port=INT32, rack=st.none() | st.text()
)


class Response(NamedTuple):
    correlation_id: int
    version: int
    throttle_time_ms: int
    error_code: int
    session_id: int
    topics: list[FetchTopicData]
    node_endpoints: list[NodeEndpoint]


def responses(version: int) -> st.SearchStrategy[Response]:
    return st.builds(
        Response,
        correlation_id=INT32,
        version=st.just(version),
        throttle_time_ms=INT32,
        error_code=ERROR_CODES if version >= 7 else st.just(0),
        session_id=INT32 if version >= 7 else st.just(0),
        topics=st.lists(topics, max_size=3),
        node_endpoints=st.lists(endpoints, max_size=2) if version >= 16 else st.just([]),
    )


# --- the same response as kio objects -----------------------------------------------------------


def _build(cls: type[Any], **values: Any) -> Any:
    """Instantiate a kio class with the values it has fields for (the rest are other versions')."""
    names = {f.name for f in dataclasses.fields(cls)}
    return cls(**{k: v for k, v in values.items() if k in names})


def to_kio(response: Response) -> Any:
    schema = importlib.import_module(f"kio.schema.fetch.v{response.version}.response")

    def pair(cls: type[Any], names: tuple[str, str], value: tuple[int, int] | None) -> Any:
        return cls() if value is None else cls(**dict(zip(names, value, strict=True)))

    def partition(p: FetchPartitionData) -> Any:
        aborted = p.aborted_transactions
        return _build(
            schema.PartitionData,
            partition_index=p.partition_index,
            error_code=ErrorCode(p.error_code),
            high_watermark=p.high_watermark,
            last_stable_offset=p.last_stable_offset,
            log_start_offset=p.log_start_offset,
            aborted_transactions=None
            if aborted is None
            else tuple(schema.AbortedTransaction(producer_id=a, first_offset=b) for a, b in aborted),
            preferred_read_replica=p.preferred_read_replica,
            records=None if p.records is None else bytes(p.records),  # type: ignore[arg-type]
            diverging_epoch=pair(
                getattr(schema, "EpochEndOffset", None), ("epoch", "end_offset"), p.diverging_epoch
            )
            if response.version >= 12
            else None,
            current_leader=pair(
                getattr(schema, "LeaderIdAndEpoch", None), ("leader_id", "leader_epoch"), p.current_leader
            )
            if response.version >= 12
            else None,
            snapshot_id=pair(getattr(schema, "SnapshotId", None), ("end_offset", "epoch"), p.snapshot_id)
            if response.version >= 12
            else None,
        )

    return _build(
        schema.FetchResponse,
        throttle_time=i32Timedelta.parse(datetime.timedelta(milliseconds=response.throttle_time_ms)),
        error_code=ErrorCode(response.error_code),
        session_id=response.session_id,
        responses=tuple(
            _build(
                schema.FetchableTopicResponse,
                topic=t.name,
                topic_id=t.topic_id,
                partitions=tuple(partition(p) for p in t.partitions),
            )
            for t in response.topics
        ),
        node_endpoints=tuple(
            _build(schema.NodeEndpoint, node_id=e.node_id, host=e.host, port=e.port, rack=e.rack)
            for e in response.node_endpoints
        ),
    )


def _encode(response: Response) -> tuple[int, list[Any]]:
    return encode_fetch_response(
        correlation_id=response.correlation_id,
        version=response.version,
        throttle_time_ms=response.throttle_time_ms,
        error_code=response.error_code,
        session_id=response.session_id,
        topics=response.topics,
        node_endpoints=response.node_endpoints,
    )


def _join(chunks: list[Any]) -> bytes:
    return b"".join(c.data if isinstance(c, FileSlice) else bytes(c) for c in chunks)


def _check_chunks(total: int, chunks: list[Any], response: Response) -> None:
    assert total == sum(c.size if isinstance(c, FileSlice) else len(c) for c in chunks)
    records = {id(p.records) for t in response.topics for p in t.partitions if p.records is not None}
    framing = [id(c) not in records for c in chunks]
    assert framing[0] and isinstance(chunks[0], bytes), "the first chunk carries the size prefix and header"
    # Framing is merged: a framing chunk is never followed by another one.
    assert not any(a and b for a, b in itertools.pairwise(framing))


@pytest.mark.parametrize("version", VERSIONS)
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_matches_kio_byte_for_byte(version: int, data: st.DataObject) -> None:
    response = data.draw(responses(version))
    kio_response = to_kio(response)
    expected = encode_response(response.correlation_id, kio_response)
    total, chunks = _encode(response)
    _check_chunks(total, chunks, response)
    assert _join(chunks) == expected
    assert total == len(expected)
    # Large records are passed through, not copied.
    big = [p.records for t in response.topics for p in t.partitions if p.records and len(p.records) > 16384]
    assert all(any(c is r for c in chunks) for r in big)
    # kio decodes what we produce back to the same response.
    header_cls = type(kio_response).__header_schema__
    header, header_size = entity_reader(header_cls)(expected, 4)
    assert header.correlation_id == response.correlation_id
    decoded, size = entity_reader(type(kio_response))(_join(chunks), 4 + header_size)
    assert 4 + header_size + size == total
    assert decoded == kio_response


@pytest.mark.parametrize("version", [4, 11, 12, 13, 17])
@settings(max_examples=30, deadline=None)
@given(data=st.data())
def test_slices_are_separate_chunks(version: int, data: st.DataObject) -> None:
    response = data.draw(responses(version))
    sliced = response._replace(
        topics=[
            t._replace(
                partitions=[
                    p._replace(records=FileSlice(p.records) if p.records is not None else None)
                    for p in t.partitions
                ]
            )
            for t in response.topics
        ]
    )
    total, chunks = _encode(sliced)
    _check_chunks(total, chunks, sliced)
    assert _join(chunks) == encode_response(response.correlation_id, to_kio(response))
    slices = [p.records for t in sliced.topics for p in t.partitions if p.records is not None]
    assert [c for c in chunks if isinstance(c, FileSlice)] == slices


def test_memoryview_records_pass_through() -> None:
    data = memoryview(bytearray(_records(100_000)))[10:90_000]
    topic = FetchTopicData(
        "t", uuid.uuid4(), [FetchPartitionData(0, records=data), FetchPartitionData(1, records=b"x")]
    )
    total, chunks = encode_fetch_response(correlation_id=1, version=13, topics=[topic])
    assert chunks[1] is data and len(chunks) == 3
    assert total == sum(len(c) for c in chunks)  # type: ignore[arg-type]


def test_unsupported_version() -> None:
    for version in (3, MAX_VERSION + 1):
        with pytest.raises(ValueError, match="not supported"):
            encode_fetch_response(correlation_id=1, version=version, topics=[])


def test_names_required_before_v13() -> None:
    topic = FetchTopicData(None, uuid.uuid4(), [])
    with pytest.raises(ValueError, match="topic names"):
        encode_fetch_response(correlation_id=1, version=12, topics=[topic])
    encode_fetch_response(correlation_id=1, version=13, topics=[topic])


def test_every_tagged_field_against_kio() -> None:
    partition = FetchPartitionData(
        7,
        error_code=6,
        high_watermark=100,
        last_stable_offset=90,
        log_start_offset=3,
        aborted_transactions=[(5, 17), (6, 18)],
        preferred_read_replica=2,
        records=b"abc",
        diverging_epoch=(4, 55),
        current_leader=(1, 9),
        snapshot_id=(70, 3),
    )
    topic = FetchTopicData("orders", uuid.uuid4(), [partition])
    nodes = [NodeEndpoint(1, "broker-1", 9092, "rack-a"), NodeEndpoint(2, "broker-2", 9093)]
    for version in VERSIONS:
        response = Response(42, version, 5, 0, 11, [topic], nodes if version >= 16 else [])
        total, chunks = _encode(response)
        assert _join(chunks) == encode_response(42, to_kio(response))
        if version >= 16:  # the top-level NodeEndpoints tag is really there
            assert b"broker-2" in chunks[0]
        without = _encode(
            response._replace(
                topics=[
                    topic._replace(
                        partitions=[
                            partition._replace(diverging_epoch=None, current_leader=None, snapshot_id=None)
                        ]
                    )
                ],
                node_endpoints=[],
            )
        )
        assert (total > without.total_size) == (version >= 12)
