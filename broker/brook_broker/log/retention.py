"""Which segments retention may delete (Kafka's ``UnifiedLog.deleteOldSegments`` predicates).

`UnifiedLog.delete_old_segments` asks `deletable_segments` once per rule:

- log start offset: a segment whose successor starts at or below the log start offset holds
  nothing readable (DeleteRecords or an earlier deletion moved the start past it);
- ``retention.bytes``: the oldest segments whose removal keeps the log at or above the limit;
- ``retention.ms``: segments whose largest record timestamp is older than the limit.

Deletion always goes from the oldest segment forwards and stops at the first segment that
does not qualify, and never includes data at or above the high watermark (the log start
offset may never pass it). An expired *active* segment qualifies too; the log then rolls a
new, empty active segment before deleting it, as Kafka does.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from brook_broker.config.log_config import LogConfig
from brook_broker.log.local_log import LogSegments
from brook_broker.log.segment import LogSegment

if TYPE_CHECKING:
    from brook_broker.log.unified_log import UnifiedLog

#: (segment, the segment after it or None for the active one) -> may it go?
SegmentPredicate = Callable[[LogSegment, LogSegment | None], bool]


def delete_old_segments(log: UnifiedLog, now_ms: int) -> int:
    """Run the rules in Kafka's order; returns the number of segments deleted.

    Called by `UnifiedLog.delete_old_segments` with the log's lock held.
    """
    deleted = _delete_matching(log, log_start_offset_breached(log.log_start_offset), now_ms)
    if log.config.delete:
        size_rule = retention_size_breached(log.config, log.size_in_bytes)
        if size_rule is not None:
            deleted += _delete_matching(log, size_rule, now_ms)
        time_rule = retention_ms_breached(log.config, now_ms)
        if time_rule is not None:
            deleted += _delete_matching(log, time_rule, now_ms)
    return deleted


def _delete_matching(log: UnifiedLog, predicate: SegmentPredicate, now_ms: int) -> int:
    segments = log.local_log.segments
    deletable = deletable_segments(
        segments, predicate=predicate, high_watermark=log.high_watermark, log_end_offset=log.log_end_offset
    )
    if not deletable:
        return 0
    if len(deletable) == len(segments):
        # A log always has an active segment: roll a new one before deleting the last.
        log.roll()
    log.local_log.remove_and_delete_segments(deletable, now_ms=now_ms)
    first_base = segments.first.base_offset
    log.maybe_increment_log_start_offset(first_base)
    # Snapshots of deleted segments describe producers that may no longer be in the log.
    log.producer_state_manager.delete_snapshots_before(first_base)
    return len(deletable)


def deletable_segments(
    segments: LogSegments, *, predicate: SegmentPredicate, high_watermark: int, log_end_offset: int
) -> list[LogSegment]:
    ordered = list(segments)
    deletable: list[LogSegment] = []
    for index, segment in enumerate(ordered):
        following = ordered[index + 1] if index + 1 < len(ordered) else None
        upper_bound = following.base_offset if following is not None else log_end_offset
        # An empty active segment is where the next append goes; deleting it would gain nothing.
        is_last_and_empty = following is None and segment.size == 0
        if high_watermark >= upper_bound and not is_last_and_empty and predicate(segment, following):
            deletable.append(segment)
        else:
            break
    return deletable


def log_start_offset_breached(log_start_offset: int) -> SegmentPredicate:
    def predicate(_segment: LogSegment, following: LogSegment | None) -> bool:
        return following is not None and following.base_offset <= log_start_offset

    return predicate


def retention_ms_breached(config: LogConfig, now_ms: int) -> SegmentPredicate | None:
    if config.retention_ms < 0:
        return None

    def predicate(segment: LogSegment, _following: LogSegment | None) -> bool:
        return now_ms - segment.largest_timestamp() > config.retention_ms

    return predicate


def retention_size_breached(config: LogConfig, log_size: int) -> SegmentPredicate | None:
    if config.retention_bytes < 0 or log_size < config.retention_bytes:
        return None
    excess = log_size - config.retention_bytes

    def predicate(segment: LogSegment, _following: LogSegment | None) -> bool:
        nonlocal excess
        if excess - segment.size >= 0:
            excess -= segment.size
            return True
        return False

    return predicate
