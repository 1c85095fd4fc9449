"""Request decoding and response encoding over kio's generated schema classes.

Every Kafka API exists in many versions and kio has one frozen dataclass per version. The
`apis/` handlers are written once, against the newest version they serve, and `adapt`
converts what they build into the class of the version the client asked for: fields the
older version lacks are dropped, fields it has and the newer one lacks take their defaults.
This keeps version differences out of the handlers, which is where Kafka keeps them too
(its generated ``*Data`` classes carry every field and the serializer drops by version).
"""

from __future__ import annotations

import dataclasses
import datetime
import functools
import io
import struct
import typing
from collections.abc import Callable
from typing import Any, NamedTuple, TypeVar

from kio import index as kio_index
from kio.schema.index import api_key_map, schema_name_map
from kio.schema.request_header.v1.header import RequestHeader as RequestHeaderV1
from kio.schema.request_header.v2.header import RequestHeader as RequestHeaderV2
from kio.schema.response_header.v0.header import ResponseHeader as ResponseHeaderV0
from kio.serial import entity_reader, entity_writer
from kio.static.constants import EntityType
from kio.static.primitive import TZAware, i32Timedelta

from brook_broker.protocol.errors import InvalidRequestError, UnsupportedVersionError
from brook_broker.protocol.request_guard import check_request

T = TypeVar("T")

_API_KEY_AND_VERSION = struct.Struct(">hhi")
_SIZE = struct.Struct(">i")

#: ApiVersions answers with a v0 response header at every version (KIP-511), so that a
#: client which sent a version the broker does not know can still read the reply.
API_VERSIONS_KEY = 18


class RequestHeader(NamedTuple):
    api_key: int
    api_version: int
    correlation_id: int
    client_id: str | None


class DecodedRequest(NamedTuple):
    header: RequestHeader
    body: Any


def peek_header(frame: bytes | memoryview) -> tuple[int, int, int]:
    """``(api_key, api_version, correlation_id)``: the fixed prefix common to every header version."""
    if len(frame) < _API_KEY_AND_VERSION.size:
        raise InvalidRequestError("request frame is shorter than a request header")
    api_key, api_version, correlation_id = _API_KEY_AND_VERSION.unpack_from(frame, 0)
    return api_key, api_version, correlation_id


@functools.cache
def schema_class(api_key: int, api_version: int, entity_type: EntityType) -> type[Any]:
    """The kio class of a request or response; `UnsupportedVersionError` if kio has none."""
    try:
        name = api_key_map[api_key]
        # kio types the keys as Literal members of EntityType; callers pass request/response.
        path = schema_name_map[name][api_version][entity_type]  # type: ignore[index]
    except KeyError:
        raise UnsupportedVersionError(f"no schema for api key {api_key} version {api_version}") from None
    cls = kio_index._resolve(path)  # kio's public loader returns the module, not the class
    assert isinstance(cls, type)
    return cls


@functools.cache
def _body_reader(api_key: int, api_version: int) -> tuple[Callable[[Any, int], tuple[Any, int]], bool]:
    cls = schema_class(api_key, api_version, EntityType.request)
    return entity_reader(cls), bool(cls.__flexible__)


_read_header_v1 = entity_reader(RequestHeaderV1)
_read_header_v2 = entity_reader(RequestHeaderV2)


def decode_request(frame: bytes | memoryview) -> DecodedRequest:
    """Decode one request frame (without its 4-byte size prefix).

    Raises `UnsupportedVersionError` when kio has no schema for the key/version, and
    `InvalidRequestError` when the bytes do not parse. Bytes after the body are ignored, as
    Kafka ignores them: librdkafka's all-topics Metadata request (v9+) carries three.
    """
    api_key, api_version, _ = peek_header(frame)
    read_body, flexible = _body_reader(api_key, api_version)
    try:
        raw_header, offset = (_read_header_v2 if flexible else _read_header_v1)(frame, 0)
        # kio's native reader allocates arrays by their declared length (2^31-1 entries
        # abort the process); refuse lengths the frame cannot hold before it reads them.
        check_request(schema_class(api_key, api_version, EntityType.request), frame, offset)
        body, _ = read_body(frame, offset)
    except InvalidRequestError:
        raise
    except Exception as exc:  # kio raises a variety of errors for malformed input
        raise InvalidRequestError(f"malformed request body: {exc}") from exc
    header = RequestHeader(api_key, api_version, raw_header.correlation_id, raw_header.client_id)
    return DecodedRequest(header, body)


@functools.cache
def _response_writer(cls: type[Any]) -> tuple[Callable[[Any, Any], None], Callable[[Any, Any], None], Any]:
    header_cls = ResponseHeaderV0 if cls.__api_key__ == API_VERSIONS_KEY else cls.__header_schema__
    return entity_writer(header_cls), entity_writer(cls), header_cls


def encode_response(correlation_id: int, response: Any) -> bytes:
    """Size-prefixed response frame: header (v0 or v1 by flexibility) followed by the body."""
    write_header, write_body, header_cls = _response_writer(type(response))  # type: ignore[arg-type]
    buf = io.BytesIO()
    buf.write(b"\0\0\0\0")
    write_header(buf, header_cls(correlation_id=correlation_id))
    write_body(buf, response)
    frame = buf.getbuffer()
    _SIZE.pack_into(frame, 0, len(frame) - 4)
    del frame
    return buf.getvalue()


def response_class(api_key: int, api_version: int) -> type[Any]:
    return schema_class(api_key, api_version, EntityType.response)


# --- adapting one version's dataclasses to another's -------------------------------------


class _FieldPlan(NamedTuple):
    name: str
    convert: Callable[[Any], Any] | None  # None: copy as is
    has_default: bool


@functools.cache
def _nested_type(cls: type[Any], field_name: str) -> tuple[type[Any] | None, bool]:
    """For a field holding an entity (or a tuple of them): ``(entity class, is_tuple)``."""
    hints = _type_hints(cls)  # type: ignore[arg-type]
    hint = hints[field_name]
    origin = getattr(hint, "__origin__", None)
    args: tuple[Any, ...] = getattr(hint, "__args__", ())
    if origin is tuple and args and isinstance(args[0], type) and dataclasses.is_dataclass(args[0]):
        return args[0], True
    candidates = [a for a in args if isinstance(a, type) and dataclasses.is_dataclass(a)] if args else []
    if dataclasses.is_dataclass(hint) and isinstance(hint, type):
        return hint, False
    if candidates:
        return candidates[0], False
    return None, False


@functools.cache
def _type_hints(cls: type[Any]) -> dict[str, Any]:
    import typing

    return typing.get_type_hints(cls)


@functools.cache
def _plan(source: type[Any], target: type[Any]) -> tuple[_FieldPlan, ...]:
    source_fields = {f.name for f in dataclasses.fields(source)}
    plans = []
    for f in dataclasses.fields(target):
        has_default = f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING
        if f.name not in source_fields:
            if not has_default:
                raise TypeError(
                    f"{source.__qualname__} lacks field {f.name!r} required by {target.__module__}"
                )
            continue
        nested, is_tuple = _nested_type(target, f.name)  # type: ignore[arg-type]
        convert: Callable[[Any], Any] | None = None
        if nested is not None:
            convert = _tuple_converter(nested) if is_tuple else _entity_converter(nested)
        plans.append(_FieldPlan(f.name, convert, has_default))
    return tuple(plans)


def _entity_converter(target: type[Any]) -> Callable[[Any], Any]:
    return lambda value: None if value is None else adapt(value, target)


def _tuple_converter(target: type[Any]) -> Callable[[Any], Any]:
    return lambda values: None if values is None else tuple(adapt(v, target) for v in values)


def adapt(value: Any, target: type[T]) -> T:
    """Rebuild ``value`` (a kio entity of any version) as an instance of ``target``."""
    source = type(value)
    if source is target:
        return value  # type: ignore[no-any-return]
    kwargs = {}
    for plan in _plan(source, target):  # type: ignore[arg-type]
        field_value = getattr(value, plan.name)
        kwargs[plan.name] = field_value if plan.convert is None else plan.convert(field_value)
    return target(**kwargs)


# --- kio's typed values -----------------------------------------------------------------

#: ``throttle_time_ms = 0``: Brook has no quotas yet, so no response is ever throttled.
NO_THROTTLE: i32Timedelta = i32Timedelta.parse(datetime.timedelta(0))


def timestamp_from_ms(ms: int) -> TZAware | None:
    """A Kafka millisecond timestamp as kio's TZAware; -1 (no timestamp) is ``None``.

    Built exactly from the milliseconds and not through ``TZAware.parse``: kio's predicate
    wants whole seconds, while its writer only needs a datetime (it writes
    ``round(timestamp() * 1000)``), so milliseconds survive the round trip.
    """
    if ms < 0:
        return None
    return typing.cast(TZAware, _EPOCH + datetime.timedelta(milliseconds=ms))


_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)


def timedelta_ms(value: datetime.timedelta) -> int:
    return int(value / _MILLISECOND)


_MILLISECOND = datetime.timedelta(milliseconds=1)
