"""DescribeLogDirs (key 35): partitions and sizes per log directory (``kafka-log-dirs``)."""

from __future__ import annotations

import shutil
from typing import Any

from kio.schema.describe_log_dirs.v4.response import (
    DescribeLogDirsPartition,
    DescribeLogDirsResponse,
    DescribeLogDirsResult,
    DescribeLogDirsTopic,
)
from kio.schema.types import TopicName
from kio.static.primitive import i32, i64

from brook_broker.apis.context import RequestContext
from brook_broker.apis.registry import api
from brook_broker.protocol import codec
from brook_broker.protocol.errors import ErrorCode


@api(35, min_version=1, max_version=4)
async def handle_describe_log_dirs(context: RequestContext, request: Any) -> DescribeLogDirsResponse:
    services = context.services
    wanted: dict[str, set[int]] | None = (
        None if request.topics is None else {t.topic: set(t.partitions) for t in request.topics}
    )
    # Group partitions by the directory their log lives in.
    by_dir: dict[str, dict[str, list[DescribeLogDirsPartition]]] = {
        str(d): {} for d in services.config.log_dirs
    }
    for tp, partition in sorted(services.replica_manager.partitions.items()):
        if wanted is not None and tp.partition not in wanted.get(tp.topic, ()):
            continue
        log_dir = str(partition.log.dir.parent)
        by_dir.setdefault(log_dir, {}).setdefault(tp.topic, []).append(
            DescribeLogDirsPartition(
                partition_index=i32(tp.partition),
                partition_size=i64(partition.log.size_in_bytes),
                offset_lag=i64(0),
                is_future_key=False,
            )
        )
    results = []
    for log_dir, topics in by_dir.items():
        usage = shutil.disk_usage(log_dir)
        results.append(
            DescribeLogDirsResult(
                error_code=ErrorCode.none,
                log_dir=log_dir,
                topics=tuple(
                    DescribeLogDirsTopic(name=TopicName(name), partitions=tuple(parts))
                    for name, parts in sorted(topics.items())
                ),
                total_bytes=i64(usage.total),
                usable_bytes=i64(usage.free),
            )
        )
    return DescribeLogDirsResponse(
        throttle_time=codec.NO_THROTTLE, error_code=ErrorCode.none, results=tuple(results)
    )
