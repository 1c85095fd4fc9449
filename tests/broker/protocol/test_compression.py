"""`protocol.compression`: both snappy framings, LZ4's block mode, corrupt input.

Round trips through real clients' encoders are in `test_record_reader.py`.
"""

from __future__ import annotations

import cramjam
import pytest

from brook_broker.protocol.compression import compress, decompress
from brook_broker.protocol.errors import CorruptRecordError
from brook_broker.protocol.records import CompressionType


def test_decompress_both_snappy_framings() -> None:
    data = bytes(range(256)) * 500
    assert decompress(CompressionType.SNAPPY, compress(CompressionType.SNAPPY, data)) == data
    assert decompress(CompressionType.SNAPPY, bytes(cramjam.snappy.compress_raw(data))) == data


def test_lz4_frames_use_independent_blocks() -> None:
    frame = compress(CompressionType.LZ4, b"x" * 100_000)
    assert frame[:4] == b"\x04\x22\x4d\x18" and frame[4] & 0x20  # magic, FLG block-independence bit


@pytest.mark.parametrize(
    "codec", [c for c in CompressionType if c != CompressionType.NONE], ids=lambda c: c.name
)
def test_decompress_garbage_raises_corrupt_record(codec: CompressionType) -> None:
    with pytest.raises(CorruptRecordError):
        decompress(codec, b"\x82SNAPPY\x00\x00\x00\x00\x01\x00\x00\x00\x01\x00\x00\x00\x09garbage")
    with pytest.raises(CorruptRecordError):
        decompress(codec, b"not compressed at all")
