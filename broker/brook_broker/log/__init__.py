"""Storage engine with Kafka's names and on-disk format: LogSegment, OffsetIndex, TimeIndex, UnifiedLog,
LogManager, leader-epoch cache, producer state and recovery. Synchronous; the server schedules its
background work (retention, flush, checkpoints).
"""
