"""Encode time of a large FetchResponse: `protocol.fetch_response` against kio's encoder.

A 100-partition response with 1 MiB of records per partition, at v11 (legacy) and v13
(flexible). Records are given as bytes (passed through) and as file slices. Run with
``.venv/bin/python bench/bench_fetch_response.py``.
"""

from __future__ import annotations

import datetime
import functools
import importlib
import os
import statistics
import time
import uuid
from collections.abc import Callable
from typing import Any, NamedTuple

from kio.schema.errors import ErrorCode
from kio.static.primitive import i32Timedelta

from brook_broker.protocol.codec import encode_response
from brook_broker.protocol.fetch_response import FetchPartitionData, FetchTopicData, encode_fetch_response

PARTITIONS = 100
RECORDS_SIZE = 1 << 20


class FileSlice(NamedTuple):
    size: int


def _time(fn: Callable[[], object], *, repeat: int) -> tuple[float, float]:
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples), min(samples)


def _kio_response(version: int, topic_id: uuid.UUID, records: bytes) -> Any:
    schema = importlib.import_module(f"kio.schema.fetch.v{version}.response")
    topic_field = {"topic_id": topic_id} if version >= 13 else {"topic": "bench"}
    partitions = tuple(
        schema.PartitionData(
            partition_index=i,
            error_code=ErrorCode.none,
            high_watermark=1000,
            last_stable_offset=1000,
            log_start_offset=0,
            aborted_transactions=None,
            records=records,
        )
        for i in range(PARTITIONS)
    )
    return schema.FetchResponse(
        throttle_time=i32Timedelta.parse(datetime.timedelta(0)),
        error_code=ErrorCode.none,
        session_id=0,
        responses=(schema.FetchableTopicResponse(**topic_field, partitions=partitions),),
    )


def main() -> None:
    records = os.urandom(RECORDS_SIZE)
    topic_id = uuid.uuid4()
    print(f"FetchResponse, {PARTITIONS} partitions x {RECORDS_SIZE >> 10} KiB records")
    for version in (11, 13):

        def topics(value: object) -> list[FetchTopicData]:
            parts = [
                FetchPartitionData(
                    i, high_watermark=1000, last_stable_offset=1000, log_start_offset=0, records=value
                )  # type: ignore[arg-type]
                for i in range(PARTITIONS)
            ]
            return [FetchTopicData("bench", topic_id, parts)]

        with_bytes, with_slices = topics(records), topics(FileSlice(RECORDS_SIZE))
        kio_response = _kio_response(version, topic_id, records)
        ours = encode_fetch_response(correlation_id=1, version=version, topics=with_bytes)
        assert b"".join(ours.chunks) == encode_response(1, kio_response)  # type: ignore[arg-type]
        encode = functools.partial(encode_fetch_response, correlation_id=1, version=version)
        fast_bytes = _time(functools.partial(encode, topics=with_bytes), repeat=200)
        fast_slices = _time(functools.partial(encode, topics=with_slices), repeat=200)
        kio_time = _time(functools.partial(encode_response, 1, kio_response), repeat=10)
        for label, (median, best), unit in (
            ("kio encode_response    ", kio_time, "ms"),
            ("fetch_response (bytes) ", fast_bytes, "us"),
            ("fetch_response (slices)", fast_slices, "us"),
        ):
            scale = 1e3 if unit == "ms" else 1e6
            print(f"  v{version}: {label} median {median * scale:8.1f} {unit}  (min {best * scale:.1f})")
        print(f"  v{version}: speed-up {kio_time[0] / fast_bytes[0]:.0f}x, {len(ours.chunks)} chunks")


if __name__ == "__main__":
    main()
