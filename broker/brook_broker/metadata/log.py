"""The cluster metadata log: ``__cluster_metadata-0``, a Kafka log of metadata records.

One `QuorumController.commit` is one record batch, so a batch of records (a topic with all
its partitions) is all-or-nothing across a crash: recovery truncates torn batches. Every
append is flushed before the controller applies it, as a Raft voter must do before it
acknowledges. Replication of this log between controllers comes with KRaft clustering.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

from brook_broker.config.log_config import LogConfig
from brook_broker.log.unified_log import UnifiedLog
from brook_broker.metadata import records as r
from brook_broker.metadata.topic_names import METADATA_TOPIC
from brook_broker.protocol import record_reader
from brook_broker.protocol.records import iter_batches
from brook_broker.protocol.types import TopicPartition

logger = logging.getLogger(__name__)

METADATA_PARTITION = TopicPartition(METADATA_TOPIC, 0)
#: The metadata log keeps everything: the image is rebuilt by replaying it from the start.
#: (Kafka takes snapshots and deletes old segments; Brook's metadata is small enough not to yet.)
METADATA_LOG_CONFIG = LogConfig(retention_ms=-1, retention_bytes=-1, segment_bytes=64 * 1024 * 1024)


class MetadataLog:
    def __init__(self, log: UnifiedLog, *, leader_epoch: int = 0) -> None:
        self._log = log
        self._leader_epoch = leader_epoch

    @classmethod
    def open(cls, metadata_dir: Path, *, clean_shutdown: bool) -> MetadataLog:
        log = UnifiedLog.load(
            dir=metadata_dir / str(METADATA_PARTITION),
            topic_partition=METADATA_PARTITION,
            config=METADATA_LOG_CONFIG,
            recovery_point=0,
            log_start_offset=0,
            clean_shutdown=clean_shutdown,
        )
        return cls(log)

    @property
    def end_offset(self) -> int:
        return self._log.log_end_offset

    def append(self, batch: Sequence[r.MetadataRecord]) -> int:
        """Append one batch durably; return the offset of its last record."""
        now_ms = int(time.time() * 1000)
        raw = record_reader.build_batch(
            [
                record_reader.Record(offset=i, timestamp=now_ms, key=None, value=r.encode(record))
                for i, record in enumerate(batch)
            ],
            base_offset=0,
        )
        info = self._log.append_as_leader(raw, leader_epoch=self._leader_epoch)
        self._log.flush()
        self._log.update_high_watermark(self._log.log_end_offset)
        return info.last_offset

    def replay(self) -> Iterator[tuple[int, r.MetadataRecord]]:
        """Every record from the start of the log, in order."""
        offset = self._log.log_start_offset
        end = self._log.log_end_offset
        while offset < end:
            data = self._log.read(offset, max_bytes=1024 * 1024, max_offset=end, min_one_message=True)
            raw = data.records.read_bytes() if data.records is not None else b""
            if not raw:
                break
            view = memoryview(raw)
            for position, header in iter_batches(view):
                for record in record_reader.iter_records(view[position : position + header.size]):
                    if record.offset >= offset and record.value is not None:
                        yield record.offset, r.decode(record.value)
                offset = header.next_offset

    def close(self) -> None:
        self._log.close()
