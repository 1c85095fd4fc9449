"""Storage engine with Kafka's names and on-disk format. Synchronous; the server schedules its
background work (retention, flush, checkpoints) and may run `UnifiedLog.flush` in a thread.

Entry points: `manager.LogManager` (all logs of the broker's ``log.dirs``) and
`unified_log.UnifiedLog` (one partition). Below them, top to bottom:

- ``unified_log``, ``validator``, ``retention``, ``offset_lookup``, ``log_loader``: one partition's
  behaviour (appends, reads, offsets, truncation, retention, loading and recovery);
- ``local_log``: the segments of a partition directory;
- ``segment``, ``log_file``, ``index``: one segment's ``.log``, ``.index`` and ``.timeindex``;
- ``leader_epoch``, ``producer_state``, ``producer_entry``, ``producer_snapshot``: leader-epoch
  cache and idempotent-producer state;
- ``checkpoint``, ``results``, ``clock``: file formats, return types, the time source.
"""
