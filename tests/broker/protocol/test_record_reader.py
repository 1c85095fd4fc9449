"""`protocol.record_reader` against batches written by real clients' encoders and by kio.

aiokafka's builder covers every codec (snappy in snappy-java framing, as the Java client
writes it); kafka-python's covers none and gzip (its other codecs need libraries that are
not installed); librdkafka's raw snappy is covered in `test_record_reader_librdkafka.py`.
"""

from __future__ import annotations

import contextlib
import datetime
import io
import itertools

import pytest
from aiokafka.record._crecords.default_records import DefaultRecordBatch as AioBatch
from aiokafka.record._crecords.default_records import DefaultRecordBatchBuilder as AioBuilder
from aiokafka.record.default_records import _DefaultRecordBatchBuilderPy as AioBuilderPy
from hypothesis import given, settings
from hypothesis import strategies as st
from kafka.record.default_records import DefaultRecordBatch as KafkaPyBatch
from kafka.record.default_records import DefaultRecordBatchBuilder as KafkaPyBuilder
from kio.records.readers import read_batch as kio_read_batch
from kio.records.schema import NewRecordBatch as KioNewBatch
from kio.records.schema import Record as KioRecord
from kio.records.schema import RecordHeader as KioHeader
from kio.records.writers import write_batch as kio_write_batch

from brook_broker.protocol.errors import CorruptRecordError
from brook_broker.protocol.record_reader import Record, build_batch, iter_records
from brook_broker.protocol.records import CompressionType, TimestampType, read_header, validate_batches

CODECS = list(CompressionType)
SAMPLE = [
    (b"k0", b"v0", []),
    (None, b"value without key", [("h", b"1"), ("empty", None)]),
    (b"k2", None, []),
    (b"", b"", [("unicode-\u00e9", b"\xff\x00")]),
    (b"key" * 50, b"value-" * 2000, []),
]


def _client_batch(builder_cls: type, codec: int, *, base_offset: int = 0) -> bytes:
    builder = builder_cls(
        magic=2,
        compression_type=codec,
        is_transactional=0,
        producer_id=77,
        producer_epoch=3,
        base_sequence=10,
        batch_size=1 << 20,
    )
    for i, (key, value, headers) in enumerate(SAMPLE):
        builder.append(
            base_offset + i, timestamp=1_700_000_000_000 + i * 7, key=key, value=value, headers=headers
        )
    return bytes(builder.build())


def _expected(base_offset: int = 0) -> list[Record]:
    return [
        Record(base_offset + i, 1_700_000_000_000 + i * 7, key, value, tuple(headers), 0)
        for i, (key, value, headers) in enumerate(SAMPLE)
    ]


@pytest.mark.parametrize("codec", CODECS, ids=lambda c: c.name)
@pytest.mark.parametrize("builder_cls", [AioBuilder, AioBuilderPy], ids=["aiokafka-c", "aiokafka-py"])
def test_reads_aiokafka_batches(builder_cls: type, codec: CompressionType) -> None:
    batch = _client_batch(builder_cls, codec)
    assert read_header(batch).compression == codec
    validate_batches(batch)
    assert list(iter_records(batch, verify_crc=True)) == _expected()


def test_aiokafka_snappy_is_xerial_framed() -> None:
    batch = _client_batch(AioBuilder, CompressionType.SNAPPY)
    assert batch[61:69] == b"\x82SNAPPY\x00"


@pytest.mark.parametrize("codec", [CompressionType.NONE, CompressionType.GZIP], ids=lambda c: c.name)
def test_reads_kafka_python_batches(codec: CompressionType) -> None:
    batch = _client_batch(KafkaPyBuilder, codec)
    assert list(iter_records(batch, verify_crc=True)) == _expected()


def test_base_offset_is_added() -> None:
    batch = bytearray(_client_batch(AioBuilder, CompressionType.LZ4))
    batch[0:8] = (1234).to_bytes(8, "big")  # the broker rewrites baseOffset, outside the CRC
    assert [r.offset for r in iter_records(bytes(batch), verify_crc=True)] == list(range(1234, 1239))


def test_log_append_time_uses_max_timestamp() -> None:
    records = [Record(i, 1000 + i, None, b"v", ()) for i in range(3)]
    batch = build_batch(records, timestamp_type=TimestampType.LOG_APPEND_TIME, log_append_time=99_999)
    assert [r.timestamp for r in iter_records(batch)] == [99_999] * 3
    (aio,) = [list(AioBatch(batch))]
    assert [r.timestamp for r in aio] == [99_999] * 3


def test_memoryview_input_and_trailing_bytes() -> None:
    batch = build_batch(_expected(), compression=CompressionType.ZSTD)
    assert list(iter_records(memoryview(batch + b"next batch..."))) == _expected()


def test_reads_kio_written_batch() -> None:
    when = datetime.datetime(2024, 1, 2, 3, 4, 5, 678000, tzinfo=datetime.UTC)
    kio_records = tuple(
        KioRecord(
            attributes=0,
            timestamp=when + datetime.timedelta(milliseconds=i),
            offset=50 + i,
            key=key,
            value=value,
            headers=tuple(KioHeader(key=k.encode(), value=v) for k, v in headers),
        )
        for i, (key, value, headers) in enumerate(SAMPLE)
    )
    buf = io.BytesIO()
    kio_write_batch(
        buf, KioNewBatch(producer_id=1, producer_epoch=0, base_sequence=0, records=kio_records, attributes=0)
    )
    batch = buf.getvalue()
    validate_batches(batch)
    millis = int(when.timestamp() * 1000)
    expected = [Record(50 + i, millis + i, k, v, tuple(h), 0) for i, (k, v, h) in enumerate(SAMPLE)]
    assert list(iter_records(batch, verify_crc=True)) == expected


# --- build_batch checked by independent readers ------------------------------------------------

header_keys = st.text(max_size=8)
nullable_bytes = st.none() | st.binary(max_size=64)
record_fields = st.tuples(
    nullable_bytes,
    nullable_bytes,
    st.lists(st.tuples(header_keys, nullable_bytes), max_size=3),
    st.integers(min_value=-(2**20), max_value=2**20),
    st.integers(min_value=0, max_value=5),
)


@st.composite
def record_lists(draw: st.DrawFn) -> list[Record]:
    fields = draw(st.lists(record_fields, max_size=12))
    offset = draw(st.integers(min_value=0, max_value=2**62))
    timestamp = draw(st.integers(min_value=0, max_value=2**42))
    records = []
    for key, value, headers, ts_delta, gap in fields:
        records.append(Record(offset, timestamp + ts_delta, key, value, tuple(headers)))
        offset += gap + 1  # compacted batches have gaps between offsets
    return records


@settings(max_examples=150, deadline=None)
@given(records=record_lists(), codec=st.sampled_from(CODECS), xerial=st.booleans())
def test_build_batch_round_trip(records: list[Record], codec: CompressionType, xerial: bool) -> None:
    batch = build_batch(
        records, base_offset=records[0].offset if records else 5, compression=codec, xerial_snappy=xerial
    )
    assert list(iter_records(batch, verify_crc=True)) == records
    if not records:
        return  # aiokafka decompresses even empty batches, which carry no records section
    # aiokafka's reader is an independent decoder for every codec (and both snappy framings).
    aio = AioBatch(batch)
    assert aio.validate_crc()
    got = [(r.offset, r.timestamp, r.key, r.value, [tuple(h) for h in r.headers]) for r in aio]
    assert got == [(r.offset, r.timestamp, r.key, r.value, list(r.headers)) for r in records]


@settings(max_examples=100, deadline=None)
@given(records=record_lists().filter(bool))
def test_build_batch_read_by_kafka_python_and_kio(records: list[Record]) -> None:
    records = [r._replace(timestamp=abs(r.timestamp)) for r in records]  # kio rejects pre-1970 times
    batch = build_batch(records, compression=CompressionType.NONE, producer_id=9, producer_epoch=1)
    kp = KafkaPyBatch(batch)
    assert kp.validate_crc()
    assert [(r.offset, r.timestamp, r.key, r.value) for r in kp] == [
        (r.offset, r.timestamp, r.key, r.value) for r in records
    ]
    kio_batch, size = kio_read_batch(batch, 0)
    assert size == len(batch)
    assert kio_batch.base_offset == records[0].offset
    assert [(r.offset, r.key, r.value) for r in kio_batch.records] == [
        (r.offset, r.key, r.value) for r in records
    ]


def test_empty_batch_keeps_last_offset_delta() -> None:
    batch = build_batch([], base_offset=100, last_offset_delta=9, producer_id=5, producer_epoch=0)
    header = read_header(batch)
    assert (header.records_count, header.next_offset) == (0, 110)
    assert list(iter_records(batch, verify_crc=True)) == []


def test_control_batch_records() -> None:
    commit = Record(7, 1, b"\x00\x00\x00\x01", b"\x00\x00\x00\x00\x00\x00", ())
    batch = build_batch([commit], is_control=True, is_transactional=True, producer_id=1, producer_epoch=0)
    header = read_header(batch)
    assert header.is_control and header.is_transactional
    assert list(iter_records(batch)) == [commit]


@pytest.mark.parametrize("codec", [5, 6, 7])
def test_unknown_codec(codec: int) -> None:
    batch = bytearray(build_batch([Record(0, 0, None, b"v")]))
    batch[22] |= codec  # attributes low byte
    with pytest.raises(CorruptRecordError):
        list(iter_records(bytes(batch)))


# --- corrupt input only ever raises CorruptRecordError -------------------------------------------

_VALID = [
    build_batch(_expected(), compression=codec, xerial_snappy=xerial)
    for codec, xerial in itertools.product(CODECS, [True, False])
]


def _drain(batch: bytes) -> None:
    with contextlib.suppress(CorruptRecordError):
        list(iter_records(batch, verify_crc=False))


@settings(max_examples=400, deadline=None)
@given(
    index=st.integers(min_value=0, max_value=len(_VALID) - 1),
    flips=st.lists(
        st.tuples(st.integers(min_value=0), st.integers(min_value=0, max_value=7)), min_size=1, max_size=4
    ),
)
def test_bit_flips(index: int, flips: list[tuple[int, int]]) -> None:
    batch = bytearray(_VALID[index])
    for position, bit in flips:
        batch[position % len(batch)] ^= 1 << bit
    _drain(bytes(batch))


@settings(max_examples=200, deadline=None)
@given(index=st.integers(min_value=0, max_value=len(_VALID) - 1), cut=st.integers(min_value=0))
def test_truncation(index: int, cut: int) -> None:
    batch = _VALID[index]
    _drain(batch[: cut % len(batch)])


@settings(max_examples=300, deadline=None)
@given(
    body=st.binary(max_size=200),
    codec=st.integers(min_value=0, max_value=7),
    count=st.integers(-5, 2**31 - 1),
)
def test_random_records_section(body: bytes, codec: int, count: int) -> None:
    # A valid header with a random records section (what a hostile producer could send).
    batch = bytearray(build_batch([], base_offset=0, last_offset_delta=0))
    batch[22] = codec
    batch[57:61] = count.to_bytes(4, "big", signed=True)
    batch += body
    batch[8:12] = (len(batch) - 12).to_bytes(4, "big")
    _drain(bytes(batch))


def test_huge_header_count_fails_fast() -> None:
    # One record claiming 2^31-1 headers: the bound check must stop it, not a 2^31 loop.
    body = b"\x00\x00\x00\x01\x00\x01\x00" + b"\xfe\xff\xff\xff\x0f"
    record = bytes([len(body) << 1]) + body
    batch = bytearray(build_batch([], last_offset_delta=0))
    batch[57:61] = (1).to_bytes(4, "big")
    batch += record
    batch[8:12] = (len(batch) - 12).to_bytes(4, "big")
    with pytest.raises(CorruptRecordError):
        list(iter_records(bytes(batch)))
