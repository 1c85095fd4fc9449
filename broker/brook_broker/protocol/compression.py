"""The record-batch codecs: compression and decompression of a batch's records section.

Called by `protocol.record_reader` (decoding, and `build_batch`/`rebuild_batch` for the
log cleaner, tools and tests). The hot path never calls this: batches stay as the producer
compressed them. Everything goes through ``cramjam``.

Snappy comes in two framings: librdkafka writes raw snappy, the Java client writes
snappy-java's stream (``\\x82SNAPPY\\x00`` + length-prefixed chunks); both are read, and
`compress` writes either. LZ4 is the LZ4 frame format with independent blocks (KIP-57).
"""

from __future__ import annotations

import struct

import cramjam

from brook_broker.protocol.errors import CorruptRecordError
from brook_broker.protocol.records import CompressionType

__all__ = ["XERIAL_MAGIC", "compress", "decompress"]

#: snappy-java's stream header: magic, then int32 version and int32 min-compatible version.
XERIAL_MAGIC = b"\x82SNAPPY\x00"
_XERIAL_HEADER = XERIAL_MAGIC + struct.pack(">ii", 1, 1)
#: snappy-java's default block size; each block is compressed on its own.
_XERIAL_BLOCK = 32 * 1024
_INT32 = struct.Struct(">i")


def decompress(codec: CompressionType | int, data: bytes | memoryview) -> bytes:
    """Decompress a batch's records section; `CorruptRecordError` if it does not decode."""
    try:
        match codec:
            case CompressionType.NONE:
                return bytes(data)
            case CompressionType.GZIP:
                return bytes(cramjam.gzip.decompress(data))
            case CompressionType.SNAPPY:
                if bytes(data[: len(XERIAL_MAGIC)]) == XERIAL_MAGIC:
                    return _xerial_decompress(data)
                return bytes(cramjam.snappy.decompress_raw(data))
            case CompressionType.LZ4:
                return bytes(cramjam.lz4.decompress(data))
            case CompressionType.ZSTD:
                return bytes(cramjam.zstd.decompress(data))
    except CorruptRecordError:
        raise
    except Exception as exc:  # cramjam raises DecompressionError, but also ValueError/OSError
        raise CorruptRecordError(f"cannot decompress {_codec_name(codec)} records: {exc}") from exc
    raise CorruptRecordError(f"unknown compression codec {codec}")


def _codec_name(codec: int) -> str:
    try:
        return CompressionType(codec).name.lower()
    except ValueError:
        return f"codec {codec}"


def _xerial_decompress(data: bytes | memoryview) -> bytes:
    # The version fields after the magic are ignored, as snappy-java and librdkafka do:
    # some producers are known to write them little-endian.
    view = memoryview(data)
    position = len(_XERIAL_HEADER)
    if len(view) < position:
        raise CorruptRecordError("truncated snappy-java stream header")
    chunks = []
    while position < len(view):
        if len(view) - position < 4:
            raise CorruptRecordError("truncated snappy-java chunk length")
        (length,) = _INT32.unpack_from(view, position)
        position += 4
        if length < 0 or position + length > len(view):
            raise CorruptRecordError("snappy-java chunk length exceeds the data")
        chunks.append(bytes(cramjam.snappy.decompress_raw(view[position : position + length])))
        position += length
    return b"".join(chunks)


def compress(codec: CompressionType | int, data: bytes, *, xerial_snappy: bool = True) -> bytes:
    """Compress a records section the way the Java client does (or raw snappy, as librdkafka)."""
    match codec:
        case CompressionType.NONE:
            return data
        case CompressionType.GZIP:
            return bytes(cramjam.gzip.compress(data))
        case CompressionType.SNAPPY:
            if not xerial_snappy:
                return bytes(cramjam.snappy.compress_raw(data))
            parts = [_XERIAL_HEADER]
            for start in range(0, len(data), _XERIAL_BLOCK):
                block = bytes(cramjam.snappy.compress_raw(data[start : start + _XERIAL_BLOCK]))
                parts += (_INT32.pack(len(block)), block)
            return b"".join(parts)
        case CompressionType.LZ4:
            # Kafka reads only independent blocks (KIP-57); the content checksum is optional
            # and older Java readers reject it, so it stays off, as in the Java client.
            compressor = cramjam.lz4.Compressor(content_checksum=False, block_linked=False)
            compressor.compress(data)
            return bytes(compressor.finish())
        case CompressionType.ZSTD:
            return bytes(cramjam.zstd.compress(data, level=3))
    raise ValueError(f"unknown compression codec {codec}")
