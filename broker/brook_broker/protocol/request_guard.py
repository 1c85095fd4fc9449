"""A pre-check of request frames that keeps kio's native reader from huge allocations.

kio's Rust reader reserves memory for an array from its declared length before reading
any element: a 20-byte request declaring an array of 2^31-1 entries makes it ask for
16 GiB, and a failed allocation in Rust aborts the whole process. `protocol.codec` calls
`check_request` before kio sees a frame. It walks the frame along the request schema
(the same kio classes, so it knows where every length is) and raises `InvalidRequestError`
when an array, or a tagged-field section, declares more entries than the remaining bytes
could hold. Anything else that is malformed (truncation, bad strings, negative lengths) it
leaves to kio, which reports it: the walk stops at the first byte it cannot follow.

The walk compiles each schema class into closures once; runs of fixed-size fields become
one addition, so arrays of fixed-size entries are checked in constant time.
"""

from __future__ import annotations

import dataclasses
import functools
import struct
from collections.abc import Callable
from typing import Any, NamedTuple

from kio.serial._introspect import (  # the field classification kio's own readers use
    EntityField,
    EntityTupleField,
    classify_field,
    get_field_tag,
    get_schema_field_type,
    is_optional,
)

from brook_broker.protocol.errors import InvalidRequestError

__all__ = ["check_request"]

#: ``skip(buf, position, end) -> position after the field``; raises `_Stop` when lost.
Skip = Callable[[Any, int, int], int]

_FIXED_SIZES = {
    "bool": 1,
    "int8": 1,
    "uint8": 1,
    "int16": 2,
    "uint16": 2,
    "error_code": 2,
    "int32": 4,
    "uint32": 4,
    "timedelta_i32": 4,
    "int64": 8,
    "uint64": 8,
    "float64": 8,
    "timedelta_i64": 8,
    "datetime_i64": 8,
    "uuid": 16,
}
_I16 = struct.Struct(">h").unpack_from
_I32 = struct.Struct(">i").unpack_from
_I8 = struct.Struct(">b").unpack_from


class _Stop(Exception):  # noqa: N818 - control flow, never escapes this module
    """The walk cannot follow the bytes any further; kio will report what is wrong."""


def _uvarint(buf: Any, position: int) -> tuple[int, int]:
    value = 0
    shift = 0
    while True:
        byte = buf[position]
        position += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, position
        shift += 7
        if shift > 28:  # Kafka's unsigned varints are at most 5 bytes
            raise _Stop


def _too_many(what: str, count: int, remaining: int) -> InvalidRequestError:
    return InvalidRequestError(f"request declares {count} {what} but only {remaining} bytes follow")


# --- one skip function per field kind ----------------------------------------------------------


def _skip_legacy_string(buf: Any, position: int, end: int) -> int:
    length: int
    (length,) = _I16(buf, position)
    return position + 2 + max(length, 0)


def _skip_legacy_bytes(buf: Any, position: int, end: int) -> int:
    length: int
    (length,) = _I32(buf, position)
    return position + 4 + max(length, 0)


def _skip_compact(buf: Any, position: int, end: int) -> int:
    length, position = _uvarint(buf, position)
    return position + max(length - 1, 0)


class _Field(NamedTuple):
    """How to get past one field: ``skip`` is None for fixed-size fields (``fixed_size`` bytes)."""

    skip: Skip | None
    min_size: int  # fewest bytes the field can take
    fixed_size: int | None
    has_arrays: bool  # whether an array can appear in it (where kio would allocate)
    check_count: Skip | None  # arrays only: check the count, then stop (see `_body`)


class _Entity(NamedTuple):
    steps: tuple[Skip | int, ...]  # ints are runs of fixed-size fields
    fields: tuple[_Field, ...]  # the non-tagged fields, in order
    tagged: Skip | None  # the tagged-field section of a flexible entity
    tags_have_arrays: bool
    min_size: int
    fixed_size: int | None


def _read_count(buf: Any, position: int, flexible: bool) -> tuple[int, int]:
    if flexible:
        count, position = _uvarint(buf, position)
        return count - 1, position  # compact arrays store length + 1; 0 is null
    (count,) = _I32(buf, position)
    return count, position + 4


def _array(item: _Field | _Entity, *, skip_item: Skip, flexible: bool) -> tuple[Skip, Skip]:
    """``(skip, check_count)`` for an array; both refuse counts the remaining bytes rule out.

    Every entry of every request array takes at least one byte (the only field-less
    structs are whole request bodies, never array entries), so the bound is at least
    the number of remaining bytes.
    """
    item_size = max(item.min_size, 1)
    fixed = item.fixed_size
    # Entries that are entities are walked inline, saving a call per entry.
    steps = item.steps if isinstance(item, _Entity) else None
    tagged = item.tagged if isinstance(item, _Entity) else None
    prefix = steps[0] if steps is not None and len(steps) == 1 and isinstance(steps[0], int) else None

    def check_count(buf: Any, position: int, end: int) -> int:
        count, position = _read_count(buf, position, flexible)
        if count * item_size > end - position:
            raise _too_many("array entries", count, end - position)
        return position

    def skip_array(buf: Any, position: int, end: int) -> int:
        count, position = _read_count(buf, position, flexible)
        if count <= 0:
            return position
        if count * item_size > end - position:
            raise _too_many("array entries", count, end - position)
        if fixed is not None:
            return position + count * fixed
        if steps is None:
            for _ in range(count):
                position = skip_item(buf, position, end)
            return position
        for _ in range(count):
            if prefix is not None:  # the usual flexible entry: fixed fields, then tags
                position += prefix
            else:
                for step in steps:
                    position = position + step if isinstance(step, int) else step(buf, position, end)
            if tagged is not None:
                position = tagged(buf, position, end) if buf[position] else position + 1
        return position

    return skip_array, check_count


def _tagged_fields(known: dict[int, Skip]) -> Skip:
    def skip_tagged(buf: Any, position: int, end: int) -> int:
        count, position = _uvarint(buf, position)
        if count * 2 > end - position:  # each tagged field takes at least two bytes
            raise _too_many("tagged fields", count, end - position)
        for _ in range(count):
            tag, position = _uvarint(buf, position)
            size, position = _uvarint(buf, position)
            if tag in known:  # kio parses known tags, so their arrays need the check too
                known[tag](buf, position, end)
            position += size
        return position

    return skip_tagged


def _nullable_entity(entity: Skip) -> Skip:
    def skip_nullable(buf: Any, position: int, end: int) -> int:
        # KIP-893: an int8 marker, -1 for null, before a nullable struct.
        (marker,) = _I8(buf, position)
        return position + 1 if marker == -1 else entity(buf, position + 1, end)

    return skip_nullable


# --- compiling a schema class -----------------------------------------------------------------


def _primitive(kafka_type: str, *, flexible: bool) -> _Field:
    if kafka_type in _FIXED_SIZES:
        size = _FIXED_SIZES[kafka_type]
        return _Field(None, size, size, False, None)
    if kafka_type not in ("string", "bytes", "records"):
        raise TypeError(f"unknown kafka type {kafka_type!r}")
    if flexible:
        return _Field(_skip_compact, 1, None, False, None)
    if kafka_type == "string":
        return _Field(_skip_legacy_string, 2, None, False, None)
    return _Field(_skip_legacy_bytes, 4, None, False, None)


def _field(field: dataclasses.Field[Any], *, flexible: bool) -> _Field:
    kind = classify_field(field)
    item: _Field | _Entity
    if isinstance(kind, EntityField | EntityTupleField):
        entity_class: type = kind.type_
        item = _compile(entity_class)
        skip_item = _entity_skip(item)
        has_arrays = item.tags_have_arrays or any(f.has_arrays for f in item.fields)
        if not kind.is_array:
            if is_optional(field) and get_field_tag(field) is None:
                return _Field(_nullable_entity(skip_item), 1, None, has_arrays, None)
            return _Field(
                skip_item if item.fixed_size is None else None,
                item.min_size,
                item.fixed_size,
                has_arrays,
                None,
            )
    else:
        item = _primitive(get_schema_field_type(field), flexible=flexible)
        if not kind.is_array:
            return item
        skip_item = item.skip or _fixed(item.fixed_size or 0)
    skip, check_count = _array(item, skip_item=skip_item, flexible=flexible)
    return _Field(skip, 1 if flexible else 4, None, True, check_count)


def _fixed(size: int) -> Skip:
    return lambda buf, position, end: position + size


@functools.cache
def _compile(cls: type) -> _Entity:  # bare ``type``: mypy finds ``type[Any]`` unhashable
    flexible = bool(getattr(cls, "__flexible__"))  # noqa: B009 - kio classes have it, ``type`` does not
    steps: list[Skip | int] = []
    fields: list[_Field] = []
    known_tags: dict[int, Skip] = {}
    tags_have_arrays = False
    for field in dataclasses.fields(cls):
        plan = _field(field, flexible=flexible)
        tag = get_field_tag(field)
        if tag is not None:
            known_tags[int(tag)] = plan.skip or _fixed(plan.fixed_size or 0)
            tags_have_arrays = tags_have_arrays or plan.has_arrays
            continue
        fields.append(plan)
        if plan.skip is None and steps and isinstance(steps[-1], int):
            steps[-1] += plan.fixed_size or 0
        else:
            steps.append(plan.skip or plan.fixed_size or 0)
    min_size = sum(f.min_size for f in fields) + (1 if flexible else 0)
    is_fixed = not flexible and all(f.fixed_size is not None for f in fields)
    tagged = _tagged_fields(known_tags) if flexible else None
    return _Entity(
        tuple(steps), tuple(fields), tagged, tags_have_arrays, min_size, min_size if is_fixed else None
    )


def _entity_skip(entity: _Entity) -> Skip:
    steps, tagged = entity.steps, entity.tagged

    def skip_entity(buf: Any, position: int, end: int) -> int:
        for step in steps:
            position = position + step if isinstance(step, int) else step(buf, position, end)
        if tagged is not None:
            position = tagged(buf, position, end) if buf[position] else position + 1
        return position

    return skip_entity


@functools.cache
def _body(cls: type) -> Skip:
    """The walk of a request body, cut short after the last field that can hold an array.

    Nothing after that field needs reading; and if that field is an array whose entries
    hold no arrays, checking its count is enough (Metadata's topics, for example).
    """
    entity = _compile(cls)
    if entity.tags_have_arrays:
        return _entity_skip(entity)
    last = max((i for i, f in enumerate(entity.fields) if f.has_arrays), default=-1)
    steps: list[Skip | int] = []
    for index, plan in enumerate(entity.fields[: last + 1]):
        entries_have_arrays = (
            index == last and plan.check_count is not None and _entries_have_arrays(cls, index)
        )
        if index == last and plan.check_count is not None and not entries_have_arrays:
            steps.append(plan.check_count)
        else:
            steps.append(plan.skip or plan.fixed_size or 0)
    return _entity_skip(_Entity(tuple(steps), (), None, False, 0, None))


def _entries_have_arrays(cls: type, index: int) -> bool:
    field = [f for f in dataclasses.fields(cls) if get_field_tag(f) is None][index]
    kind = classify_field(field)
    if not isinstance(kind, EntityTupleField):
        return False
    entity_class: type = kind.type_
    entity = _compile(entity_class)
    return entity.tags_have_arrays or any(f.has_arrays for f in entity.fields)


def check_request(body_class: type, frame: bytes | memoryview, body_offset: int) -> None:
    """Walk the body at ``body_offset``; `InvalidRequestError` for impossible array lengths."""
    try:
        _body(body_class)(frame, body_offset, len(frame))
    except (_Stop, IndexError, struct.error):
        return  # malformed in a way kio reports itself, without allocating
