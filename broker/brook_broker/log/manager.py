"""`LogManager`: every partition log in the broker's ``log.dirs`` (Kafka's LogManager).

The server builds one at startup and calls `startup`, which loads each ``<topic>-<partition>``
directory with the recovery point, log start offset and high watermark from that log
directory's checkpoint files, recovering the logs if ``.kafka_cleanshutdown`` is missing.
The replica manager then gets logs with `get_log` / `get_or_create_log` / `delete_log`.
The server schedules the periodic work (`cleanup_logs`, `flush_dirty_logs`, `checkpoint`,
`delete_pending_files`, `remove_expired_producers`), runs the log cleaner with `clean_logs`
in a worker thread (see `log_cleaner`), and finally calls `shutdown`.

``__cluster_metadata-0`` is skipped at startup: the KRaft layer owns it and may open it
through `get_or_create_log`, which then loads it with the same recovery information.
"""

from __future__ import annotations

import dataclasses
import logging
import shutil
import uuid
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from brook_broker.config.log_config import LogConfig
from brook_broker.log import checkpoint
from brook_broker.log.cleaner import CleanerStats
from brook_broker.log.clock import Clock, system_clock_ms
from brook_broker.log.log_cleaner import CleanerConfig, LogCleaner
from brook_broker.log.producer_state import DEFAULT_PRODUCER_ID_EXPIRATION_MS
from brook_broker.log.unified_log import UnifiedLog
from brook_broker.protocol.errors import InconsistentTopicIdError, KafkaStorageError
from brook_broker.protocol.types import TopicPartition, random_topic_id, uuid_to_base64

logger = logging.getLogger(__name__)

METADATA_TOPIC = "__cluster_metadata"
DELETE_DIR_SUFFIX = "-delete"
_SKIPPED_DIR_SUFFIXES = ("-future", "-stray")


class LogDirectoryError(Exception):
    """A log directory that belongs to another node or cluster, or holds a partition twice."""


@dataclasses.dataclass(slots=True)
class _DirState:
    """What startup read from one log directory's checkpoint files."""

    clean_shutdown: bool
    recovery_points: dict[TopicPartition, int]
    log_start_offsets: dict[TopicPartition, int]
    high_watermarks: dict[TopicPartition, int]


def parse_topic_partition(name: str) -> TopicPartition | None:
    """``<topic>-<partition>`` as Kafka names partition directories; None for anything else."""
    topic, sep, partition = name.rpartition("-")
    if not sep or not topic or not partition.isdigit() or "." in partition:
        return None
    return TopicPartition(topic, int(partition))


class LogManager:
    """Owns the log directories and the logs in them."""

    def __init__(
        self,
        log_dirs: Sequence[Path | str],
        *,
        node_id: int,
        cluster_id: str,
        default_config: LogConfig | None = None,
        config_for_topic: Callable[[str], LogConfig] | None = None,
        directory_ids: Mapping[Path, uuid.UUID] | None = None,
        time: Clock = system_clock_ms,
        producer_id_expiration_ms: int = DEFAULT_PRODUCER_ID_EXPIRATION_MS,
        cleaner_config: CleanerConfig | None = None,
    ) -> None:
        self.log_dirs = [Path(d).absolute() for d in log_dirs]
        if not self.log_dirs:
            raise ValueError("log.dirs is empty")
        self.node_id = node_id
        self.cluster_id = cluster_id
        self.default_config = default_config or LogConfig()
        self._config_for_topic = config_for_topic
        self._directory_ids = dict(directory_ids or {})
        self._time = time
        self._producer_id_expiration_ms = producer_id_expiration_ms
        self._logs: dict[TopicPartition, UnifiedLog] = {}
        self._dir_state: dict[Path, _DirState] = {}
        #: Logs renamed ``-delete``; their files go once ``file.delete.delay.ms`` has passed.
        self._logs_to_delete: list[tuple[int, UnifiedLog]] = []
        self._topic_ids: dict[str, uuid.UUID] = {}
        cleaner_config = cleaner_config or CleanerConfig()
        #: Compaction (``log.cleaner.enable``); None when disabled.
        self.cleaner = (
            LogCleaner(cleaner_config, logs=lambda: dict(self._logs), time=time)
            if cleaner_config.enable_cleaner
            else None
        )

    @property
    def had_clean_shutdown(self) -> bool:
        """Whether every log directory was shut down cleanly (`startup` removes the markers)."""
        if self._dir_state:
            return all(state.clean_shutdown for state in self._dir_state.values())
        return all(checkpoint.has_clean_shutdown_marker(log_dir) for log_dir in self.log_dirs)

    def config_for(self, topic: str) -> LogConfig:
        return self._config_for_topic(topic) if self._config_for_topic else self.default_config

    @property
    def directory_ids(self) -> dict[Path, uuid.UUID]:
        return dict(self._directory_ids)

    # -- startup ------------------------------------------------------------------------

    def startup(
        self,
        *,
        topic_ids: Mapping[str, uuid.UUID] | None = None,
        log_config_for: Callable[[str], LogConfig] | None = None,
    ) -> None:
        """Load every partition directory; recover them if the last stop was not clean.

        ``topic_ids`` (from the metadata image) are checked against each ``partition.metadata``;
        a directory of a deleted-and-recreated topic is renamed ``-stray`` and not loaded.
        ``log_config_for`` replaces the constructor's ``config_for_topic``.
        """
        if log_config_for is not None:
            self._config_for_topic = log_config_for
        self._topic_ids = dict(topic_ids or {})
        for log_dir in self.log_dirs:
            log_dir.mkdir(parents=True, exist_ok=True)
            self._ensure_meta_properties(log_dir)
            state = self._read_dir_state(log_dir)
            self._dir_state[log_dir] = state
            for child in sorted(log_dir.iterdir()):
                if child.is_dir():
                    self._load_child(child, state)
            # From here on a crash must be detected at the next start.
            checkpoint.remove_clean_shutdown_marker(log_dir)

    def _load_child(self, child: Path, state: _DirState) -> None:
        name = child.name
        if name.endswith(DELETE_DIR_SUFFIX):
            logger.info("deleting %s, left over from a topic deletion", child)
            shutil.rmtree(child, ignore_errors=True)
            return
        if name.endswith(_SKIPPED_DIR_SUFFIXES):
            logger.warning("skipping %s: future and stray replicas are not supported", child)
            return
        tp = parse_topic_partition(name)
        if tp is None or tp.topic == METADATA_TOPIC:
            return
        if tp in self._logs:
            raise LogDirectoryError(f"partition {tp} is in both {self._logs[tp].dir} and {child}")
        topic_id = self._topic_ids.get(tp.topic)
        try:
            self._logs[tp] = self._load_log(
                child, tp, state, topic_id=topic_id, config=self.config_for(tp.topic)
            )
        except InconsistentTopicIdError as exc:
            # KRaft's stray logs: the topic was deleted and recreated while this broker was away.
            stray = child.with_name(f"{tp}.{uuid.uuid4().hex}-stray")
            logger.warning("%s; moving it to %s", exc, stray.name)
            child.rename(stray)

    def _load_log(
        self,
        directory: Path,
        tp: TopicPartition,
        state: _DirState,
        *,
        topic_id: uuid.UUID | None,
        config: LogConfig,
    ) -> UnifiedLog:
        return UnifiedLog.load(
            dir=directory,
            topic_partition=tp,
            config=config,
            recovery_point=state.recovery_points.get(tp, 0),
            log_start_offset=state.log_start_offsets.get(tp, 0),
            clean_shutdown=state.clean_shutdown,
            topic_id=topic_id,
            time=self._time,
            high_watermark=state.high_watermarks.get(tp),
            producer_id_expiration_ms=self._producer_id_expiration_ms,
        )

    def _ensure_meta_properties(self, log_dir: Path) -> None:
        """Check ``meta.properties`` belongs to this node and cluster; write it if missing."""
        path = log_dir / checkpoint.META_PROPERTIES
        existing = checkpoint.read_properties(path)
        if existing is None:
            # KIP-858's directory.id: a random Uuid per directory, kept for the directory's life.
            directory_id = self._directory_ids.setdefault(log_dir, random_topic_id())
            properties = {
                "version": "1",
                "node.id": str(self.node_id),
                "cluster.id": self.cluster_id,
                "directory.id": uuid_to_base64(directory_id),
            }
            checkpoint.write_properties(path, properties)
            return
        # A directory from another node or cluster must never be served as ours.
        for key, expected in (("cluster.id", self.cluster_id), ("node.id", str(self.node_id))):
            if existing.get(key) != expected:
                raise LogDirectoryError(f"{path}: {key} is {existing.get(key)!r}, expected {expected!r}")

    def _read_dir_state(self, log_dir: Path) -> _DirState:
        def read(name: str) -> dict[TopicPartition, int]:
            try:
                return checkpoint.read_offset_checkpoint(log_dir / name)
            except KafkaStorageError as exc:
                # Without it every log of the directory is recovered from its start: slow, safe.
                logger.warning("%s: ignoring unreadable %s: %s", log_dir, name, exc)
                return {}

        clean = checkpoint.has_clean_shutdown_marker(log_dir)
        return _DirState(
            clean_shutdown=clean,
            recovery_points=read(checkpoint.RECOVERY_POINT_CHECKPOINT),
            log_start_offsets=read(checkpoint.LOG_START_OFFSET_CHECKPOINT),
            high_watermarks=read(checkpoint.REPLICATION_OFFSET_CHECKPOINT),
        )

    # -- logs -----------------------------------------------------------------------------

    def get_log(self, tp: TopicPartition) -> UnifiedLog | None:
        return self._logs.get(tp)

    def all_logs(self) -> list[UnifiedLog]:
        return list(self._logs.values())

    def all_partitions(self) -> list[TopicPartition]:
        return list(self._logs)

    def get_or_create_log(
        self, tp: TopicPartition, *, topic_id: uuid.UUID | None, config: LogConfig | None = None
    ) -> UnifiedLog:
        """The partition's log, created in the log directory holding the fewest partitions."""
        log = self._logs.get(tp)
        if log is not None:
            if topic_id is not None and log.topic_id is not None and log.topic_id != topic_id:
                raise InconsistentTopicIdError(f"log {tp} has topic id {log.topic_id}, not {topic_id}")
            return log
        config = config or self.config_for(tp.topic)
        # A directory skipped at startup (the metadata log) is opened where it already is.
        existing = [d for d in self.log_dirs if (d / str(tp)).is_dir()]
        log_dir = existing[0] if existing else self._least_loaded_dir()
        state = self._dir_state.get(log_dir) or _DirState(True, {}, {}, {})
        log = self._load_log(log_dir / str(tp), tp, state, topic_id=topic_id, config=config)
        self._logs[tp] = log
        return log

    def _least_loaded_dir(self) -> Path:
        if len(self.log_dirs) == 1:  # the usual case; counting is O(partitions) per new log
            return self.log_dirs[0]
        counts = dict.fromkeys(self.log_dirs, 0)
        for log in self._logs.values():
            if log.dir.parent in counts:
                counts[log.dir.parent] += 1
        return min(self.log_dirs, key=lambda d: counts[d])

    def delete_log(self, tp: TopicPartition) -> None:
        """Rename the partition directory ``<tp>.<uuid>-delete``; files go after the delete delay.

        The log is closed to new operations at once. Its descriptors stay open until
        `delete_pending_files` removes the directory, so in-flight fetches can finish.
        """
        log = self._logs.pop(tp, None)
        if log is None:
            return
        if self.cleaner is not None:
            self.cleaner.abort_cleaning(tp)
        deleted_dir = log.dir.with_name(f"{tp}.{uuid.uuid4().hex}{DELETE_DIR_SUFFIX}")
        log.mark_for_deletion(deleted_dir)
        checkpoint.fsync_dir(deleted_dir.parent)
        self._logs_to_delete.append((self._time() + log.config.file_delete_delay_ms, log))

    # -- periodic work ------------------------------------------------------------------

    def cleanup_logs(self, now_ms: int | None = None) -> int:
        """Retention for every log (``log.retention.check.interval.ms``); returns segments deleted.

        A log the cleaner is working on waits for the next round (Kafka pauses one or the other).
        """
        now = self._time() if now_ms is None else now_ms
        cleaner = self.cleaner
        return sum(
            log.delete_old_segments(now)
            for tp, log in list(self._logs.items())
            if cleaner is None or not cleaner.is_cleaning(tp)
        )

    def clean_logs(self, now_ms: int | None = None) -> CleanerStats | None:
        """One log cleaner pass over the filthiest compacted log (run it in a worker thread).

        Returns None when the cleaner is disabled or no log was dirty enough: the caller then
        waits ``log.cleaner.backoff.ms`` before the next call.
        """
        return self.cleaner.clean_one(now_ms) if self.cleaner is not None else None

    def flush_dirty_logs(self, now_ms: int | None = None) -> None:
        """fsync rolled segments, and whole logs whose ``flush.ms`` has passed (may run in a thread)."""
        now = self._time() if now_ms is None else now_ms
        for log in self.all_logs():
            log.flush_rolled_segments()
            if now - log.last_flush_ms >= log.config.flush_ms:
                log.flush()

    def remove_expired_producers(self, now_ms: int | None = None) -> int:
        now = self._time() if now_ms is None else now_ms
        return sum(log.remove_expired_producers(now) for log in self.all_logs())

    def checkpoint(self) -> None:
        """Write the recovery points, log start offsets and high watermarks of every directory.

        Like `flush_dirty_logs`, safe to run in a worker thread (it fsyncs each file).
        """
        # A copy first: the event loop may create or delete logs while this runs in a thread.
        every_log = dict(self._logs)
        for log_dir in self.log_dirs:
            logs = {tp: log for tp, log in every_log.items() if log.dir.parent == log_dir}
            checkpoint.write_offset_checkpoint(
                log_dir / checkpoint.RECOVERY_POINT_CHECKPOINT,
                {tp: log.recovery_point for tp, log in logs.items()},
            )
            checkpoint.write_offset_checkpoint(
                log_dir / checkpoint.LOG_START_OFFSET_CHECKPOINT,
                {tp: log.log_start_offset for tp, log in logs.items()},
            )
            checkpoint.write_offset_checkpoint(
                log_dir / checkpoint.REPLICATION_OFFSET_CHECKPOINT,
                {tp: log.high_watermark for tp, log in logs.items()},
            )

    def delete_pending_files(self, now_ms: int | None = None) -> int:
        """Unlink deleted segments and deleted logs whose delay has passed; returns how many."""
        now = self._time() if now_ms is None else now_ms
        # Deadlines leave time for fetches still sending from the deleted files.
        count = sum(log.delete_pending_segments(now) for log in self.all_logs())
        due = [log for deadline, log in self._logs_to_delete if deadline <= now]
        self._logs_to_delete = [(deadline, log) for deadline, log in self._logs_to_delete if deadline > now]
        for log in due:
            log.delete()
        return count + len(due)

    def shutdown(self, *, broker_epoch: int = -1) -> None:
        """Flush and close every log, write checkpoints and the clean-shutdown marker."""
        if self.cleaner is not None:
            # Stops a pass in a worker thread at its next batch; no swap can follow.
            self.cleaner.shutdown()
        # Flush before close: the recovery points written below must cover everything.
        for log in self.all_logs():
            log.flush()
            log.close()
        for _, log in self._logs_to_delete:
            log.delete()
        self._logs_to_delete.clear()
        self.checkpoint()
        for log_dir in self.log_dirs:
            checkpoint.write_clean_shutdown_marker(log_dir, broker_epoch=broker_epoch)
