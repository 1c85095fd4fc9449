"""Kafka's message encoding for ``__consumer_offsets`` records: big-endian fields, strings, arrays, tags.

`Writer` and `Reader` implement the primitive types of Kafka's generated message classes for
both encodings a record schema can use: the classic one (int16-length strings, int32-length
bytes and arrays) and the *flexible* one (compact lengths as unsigned varints, plus tagged
fields). Used by `records` (offsets, classic groups) and `consumer_records` (KIP-848 groups),
which lay out each record type's fields with them. Pure: no I/O.
"""

from __future__ import annotations

import struct
import uuid
from collections.abc import Sequence

from brook_broker.protocol.errors import CorruptRecordError


class Writer:
    """Big-endian fields; ``flexible`` switches strings, bytes and arrays to their compact forms."""

    def __init__(self) -> None:
        self.flexible = False
        self.parts: list[bytes] = []

    def int16(self, value: int) -> None:
        self.parts.append(struct.pack(">h", value))

    def int32(self, value: int) -> None:
        self.parts.append(struct.pack(">i", value))

    def int64(self, value: int) -> None:
        self.parts.append(struct.pack(">q", value))

    def int8(self, value: int) -> None:
        self.parts.append(struct.pack(">b", value))

    def uuid_(self, value: uuid.UUID) -> None:
        self.parts.append(value.bytes)

    def uvarint(self, value: int) -> None:
        out = bytearray()
        while value > 0x7F:
            out.append((value & 0x7F) | 0x80)
            value >>= 7
        out.append(value)
        self.parts.append(bytes(out))

    def string(self, value: str | None) -> None:
        raw = None if value is None else value.encode()
        if self.flexible:
            self.uvarint(0 if raw is None else len(raw) + 1)
        else:
            # Non-flexible strings carry an int16 length (bytes an int32 one).
            self.int16(-1 if raw is None else len(raw))
        if raw is not None:
            self.parts.append(raw)

    def bytes_(self, value: bytes) -> None:
        if self.flexible:
            self.uvarint(len(value) + 1)
        else:
            self.int32(len(value))
        self.parts.append(value)

    def array_length(self, size: int) -> None:
        if self.flexible:
            self.uvarint(size + 1)
        else:
            self.int32(size)

    def int32_array(self, values: Sequence[int]) -> None:
        self.array_length(len(values))
        self.parts.extend(struct.pack(">i", value) for value in values)

    def string_array(self, values: Sequence[str]) -> None:
        self.array_length(len(values))
        for value in values:
            self.string(value)

    def tagged_fields(self, fields: dict[int, bytes] | None = None) -> None:
        if not self.flexible:
            return
        fields = fields or {}
        self.uvarint(len(fields))
        for tag in sorted(fields):
            self.uvarint(tag)
            self.uvarint(len(fields[tag]))
            self.parts.append(fields[tag])

    def getvalue(self) -> bytes:
        return b"".join(self.parts)


class Reader:
    def __init__(self, data: bytes, *, flexible: bool = False) -> None:
        self.data = data
        self.position = 0
        self.flexible = flexible

    def _take(self, size: int) -> bytes:
        end = self.position + size
        if size < 0 or end > len(self.data):
            raise CorruptRecordError("coordinator record is truncated")
        chunk = self.data[self.position : end]
        self.position = end
        return chunk

    def int16(self) -> int:
        value: int = struct.unpack(">h", self._take(2))[0]
        return value

    def int32(self) -> int:
        value: int = struct.unpack(">i", self._take(4))[0]
        return value

    def int64(self) -> int:
        value: int = struct.unpack(">q", self._take(8))[0]
        return value

    def int8(self) -> int:
        value: int = struct.unpack(">b", self._take(1))[0]
        return value

    def uuid_(self) -> uuid.UUID:
        return uuid.UUID(bytes=self._take(16))

    def uvarint(self) -> int:
        value = shift = 0
        while True:
            byte = self._take(1)[0]
            value |= (byte & 0x7F) << shift
            if byte < 0x80:
                return value
            shift += 7
            if shift > 28:
                raise CorruptRecordError("coordinator record has a varint that is too long")

    def nullable_string(self) -> str | None:
        size = self.uvarint() - 1 if self.flexible else self.int16()
        if size < 0:
            return None
        try:
            return self._take(size).decode()
        except UnicodeDecodeError:
            raise CorruptRecordError("coordinator record has a string that is not UTF-8") from None

    def string(self) -> str:
        value = self.nullable_string()
        if value is None:
            raise CorruptRecordError("coordinator record has a null where a string is required")
        return value

    def bytes_(self) -> bytes:
        size = self.uvarint() - 1 if self.flexible else self.int32()
        return b"" if size < 0 else self._take(size)

    def array_length(self) -> int:
        size = self.uvarint() - 1 if self.flexible else self.int32()
        return max(size, 0)

    def int32_array(self) -> tuple[int, ...]:
        return tuple(self.int32() for _ in range(self.array_length()))

    def string_array(self) -> tuple[str, ...]:
        return tuple(self.string() for _ in range(self.array_length()))

    def tagged_fields(self) -> dict[int, bytes]:
        """The tagged fields at this point (empty for non-flexible versions)."""
        if not self.flexible:
            return {}
        fields = {}
        for _ in range(self.uvarint()):
            tag = self.uvarint()
            fields[tag] = self._take(self.uvarint())
        return fields
