"""Fuzzing `protocol.codec.decode_request`: only `BrokerError`s may come out, quickly.

Inputs: fully random frames; valid headers of every request schema kio knows followed by
random bodies; valid requests (hypothesis builds them from kio's classes) truncated, with
bit flips, and with a length field overwritten by a huge value. kio's native reader
reserves memory for an array from its declared length, and a failed allocation in Rust
aborts the process, so these tests run under an address-space limit: a regression shows
up as a crash instead of passing on a machine that overcommits memory.
"""

from __future__ import annotations

import io
import resource
import struct
import time
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, reject, settings
from hypothesis import strategies as st
from kio.schema.index import api_key_map, schema_name_map
from kio.schema.request_header.v1.header import RequestHeader as RequestHeaderV1
from kio.schema.request_header.v2.header import RequestHeader as RequestHeaderV2
from kio.serial import entity_writer
from kio.static.constants import EntityType
from kio.static.primitive import Records

from brook_broker.protocol.codec import decode_request, schema_class
from brook_broker.protocol.errors import BrokerError, InvalidRequestError
from brook_broker.protocol.request_guard import _compile, _entity_skip, check_request

# kio registers strategies for its primitive types but not for Records.
st.register_type_strategy(Records, st.binary(max_size=80).map(Records.parse))

PAIRS = sorted(
    (key, version)
    for key, name in api_key_map.items()
    for version, entities in schema_name_map[name].items()
    if EntityType.request in entities
)
API_KEYS = sorted({key for key, _ in PAIRS})
#: Extra address space allowed while decoding: far below the 16 GiB a 2^31-1 array asks for.
HEADROOM = 2 << 30
#: No decode of these small frames may take longer (a hang or a huge loop would).
MAX_SECONDS = 1.0

SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.fixture(autouse=True)
def limited_address_space() -> Iterator[None]:
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    with open("/proc/self/statm") as statm:
        used = int(statm.read().split()[0]) * resource.getpagesize()
    limit = used + HEADROOM if hard == resource.RLIM_INFINITY else min(hard, used + HEADROOM)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


def _decode(frame: bytes) -> Any:
    """decode_request, allowing only BrokerError out, and only after a short time."""
    start = time.perf_counter()
    try:
        return decode_request(frame)
    except BrokerError:
        return None
    finally:
        assert time.perf_counter() - start < MAX_SECONDS


def _header(key: int, version: int, correlation_id: int, client_id: str | None) -> bytes:
    body_class = schema_class(key, version, EntityType.request)
    header_class = RequestHeaderV2 if body_class.__flexible__ else RequestHeaderV1
    buf = io.BytesIO()
    header = header_class(
        request_api_key=key,  # type: ignore[arg-type]
        request_api_version=version,  # type: ignore[arg-type]
        correlation_id=correlation_id,  # type: ignore[arg-type]
        client_id=client_id,
    )
    entity_writer(header_class)(buf, header)
    return buf.getvalue()


@st.composite
def valid_requests(draw: st.DrawFn, keys: list[int] | None = None) -> tuple[int, int, Any, bytes, int]:
    """``(key, version, body, frame, body_offset)`` for a random valid request."""
    key, version = draw(st.sampled_from([p for p in PAIRS if keys is None or p[0] in keys]))
    body_class = schema_class(key, version, EntityType.request)
    body = draw(st.from_type(body_class))
    header = _header(
        key, version, draw(st.integers(-(2**31), 2**31 - 1)), draw(st.none() | st.text(max_size=10))
    )
    buf = io.BytesIO()
    entity_writer(body_class)(buf, body)
    return key, version, body, header + buf.getvalue(), len(header)


# --- valid requests: the guard must accept every one, walking exactly the body -----------------


@pytest.mark.parametrize("key", API_KEYS)
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_valid_requests_decode(key: int, data: st.DataObject) -> None:
    _, version, body, frame, body_offset = data.draw(valid_requests([key]))
    body_class = schema_class(key, version, EntityType.request)
    # The guard's walk is in step with kio: it ends exactly at the end of the body.
    assert _entity_skip(_compile(body_class))(frame, body_offset, len(frame)) == len(frame)
    check_request(body_class, frame, body_offset)
    try:
        decoded = decode_request(frame)
    except InvalidRequestError as exc:
        # kio writes any int64 of milliseconds but reads back only what a Python timedelta
        # holds (about 2.9e5 years): a kio limit, not one of the guard's false refusals.
        if "timedelta" in str(exc):
            reject()
        raise
    assert decoded.body == body
    assert (decoded.header.api_key, decoded.header.api_version) == (key, version)


# --- malformed input --------------------------------------------------------------------------


@SETTINGS
@given(frame=st.binary(max_size=300))
def test_random_frames(frame: bytes) -> None:
    _decode(frame)


@SETTINGS
@given(
    pair=st.sampled_from(PAIRS),
    client_id=st.none() | st.text(max_size=8),
    body=st.binary(max_size=200)
    | st.lists(st.sampled_from([b"\x00", b"\xff", b"\x7f", b"\x80", b"\x01"])).map(b"".join),
)
def test_valid_header_random_body(pair: tuple[int, int], client_id: str | None, body: bytes) -> None:
    _decode(_header(*pair, 7, client_id) + body)


@SETTINGS
@given(request=valid_requests(), cut=st.integers(min_value=0))
def test_truncated_requests(request: tuple[int, int, Any, bytes, int], cut: int) -> None:
    frame = request[3]
    _decode(frame[: cut % len(frame)])


@SETTINGS
@given(
    request=valid_requests(),
    flips=st.lists(st.tuples(st.integers(min_value=0), st.integers(0, 7)), min_size=1, max_size=6),
)
def test_bit_flips(request: tuple[int, int, Any, bytes, int], flips: list[tuple[int, int]]) -> None:
    frame = bytearray(request[3])
    for position, bit in flips:
        frame[position % len(frame)] ^= 1 << bit
    _decode(bytes(frame))


HUGE_LENGTHS = [
    struct.pack(">i", 2**31 - 1),  # legacy array or bytes length
    struct.pack(">i", 2**27),
    struct.pack(">h", 2**15 - 1),  # legacy string length
    b"\xff\xff\xff\xff\x07",  # compact length 2^31-1 (unsigned varint)
    b"\xfe\xff\xff\xff\x0f",
    b"\x80\x80\x80\x40",  # 2^27 as an unsigned varint
]


@SETTINGS
@given(
    request=valid_requests(),
    position=st.integers(min_value=0),
    huge=st.sampled_from(HUGE_LENGTHS),
    insert=st.booleans(),
)
def test_huge_declared_lengths(
    request: tuple[int, int, Any, bytes, int], position: int, huge: bytes, insert: bool
) -> None:
    frame, body_offset = request[3], request[4]
    # Only the body: the header's fixed prefix picks the schema and is checked separately.
    at = body_offset + position % max(len(frame) - body_offset, 1)
    mutated = frame[:at] + huge + frame[at + (0 if insert else len(huge)) :]
    _decode(mutated)


@pytest.mark.parametrize(
    ("key", "version", "body"),
    [
        (3, 1, struct.pack(">i", 2**31 - 1)),  # Metadata v1: topics
        (3, 9, b"\xff\xff\xff\xff\x07"),  # Metadata v9: compact topics
        (3, 1, struct.pack(">i", 2**31 - 1) + b"\x00\x01a" * 100),
        (
            1,
            4,
            struct.pack(">iiiib", -1, 500, 1, 1 << 20, 0) + struct.pack(">i", 2**31 - 1),
        ),  # Fetch v4: topics
        (18, 3, b"\x01" + b"\x01" + b"\xff\xff\xff\xff\x07"),  # ApiVersions v3: tagged-field count
    ],
)
def test_array_of_2_31_entries_is_refused_without_allocating(key: int, version: int, body: bytes) -> None:
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(InvalidRequestError):
        decode_request(_header(key, version, 1, "c") + body)
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 64 * 1024  # KiB
