"""BrokerServer: builds the broker from its config, runs the listeners, and shuts down cleanly.

Start-up order matters for recovery: the metadata log is replayed first (it says which
topics exist), then the log manager loads (and, after a crash, recovers) the partition logs,
then the replica manager binds logs to partitions. Logs of topics that the metadata no
longer knows (deleted while the broker was down) are removed.

Shutdown (SIGTERM/SIGINT) is Kafka's controlled order: stop accepting connections, let
requests in flight finish, then flush and checkpoint every log and write the clean-shutdown
marker, so the next start skips recovery.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

from brook_broker.apis.context import BrokerServices, Endpoint, broker_layers
from brook_broker.apis.dispatcher import Dispatcher
from brook_broker.config.broker import BrokerConfig
from brook_broker.config.log_config import LogConfig
from brook_broker.config.topic import TopicConfigs
from brook_broker.coordinator.group.common import GroupConfig
from brook_broker.coordinator.group.coordinator import GroupCoordinator
from brook_broker.coordinator.producer_id_manager import ProducerIdManager
from brook_broker.log import checkpoint
from brook_broker.log.log_cleaner import CleanerConfig
from brook_broker.log.manager import LogManager
from brook_broker.metadata.controller import QuorumController
from brook_broker.metadata.image import MetadataDelta, MetadataImage
from brook_broker.metadata.log import MetadataLog
from brook_broker.protocol.types import uuid_to_base64
from brook_broker.replication.replica_manager import ReplicaManager
from brook_broker.server.connection import KafkaConnection

logger = logging.getLogger(__name__)

#: How often recovery points and high watermarks are checkpointed (Kafka's
#: log.flush.offset.checkpoint.interval.ms and replica.high.watermark.checkpoint.interval.ms).
CHECKPOINT_INTERVAL_S = 5.0


def _now_ms() -> int:
    return int(time.time() * 1000)


def _default_host() -> str:
    """Kafka advertises the canonical host name when a listener has no host."""
    return socket.getfqdn()


def _cluster_id(config: BrokerConfig) -> str:
    """The id in an existing ``meta.properties``, else ``cluster.id``, else a new random one.

    Kafka requires ``kafka-storage format`` to pick it; Brook formats on first start.
    """
    for log_dir in config.log_dirs:
        existing = checkpoint.read_properties(log_dir / checkpoint.META_PROPERTIES)
        if existing and existing.get("cluster.id"):
            return existing["cluster.id"]
    return config.cluster_id or uuid_to_base64(uuid.uuid4())


class BrokerServer:
    def __init__(self, config: BrokerConfig) -> None:
        self.config = config
        self._servers: list[asyncio.Server] = []
        self._connections: set[KafkaConnection] = set()
        self._tasks: list[asyncio.Task[None]] = []
        self.bound_ports: dict[str, int] = {}
        self.services: BrokerServices | None = None

    # --- start-up -------------------------------------------------------------------

    def _build(self) -> BrokerServices:
        config = self.config
        metadata_dir = Path(config.metadata_log_dir) if config.metadata_log_dir else config.log_dirs[0]
        log_manager = LogManager(
            config.log_dirs,
            node_id=config.node_id,
            cluster_id=_cluster_id(config),
            cleaner_config=CleanerConfig(
                enable_cleaner=config.log_cleaner_enable,
                dedupe_buffer_size=config.log_cleaner_dedupe_buffer_size,
                dedupe_buffer_load_factor=config.log_cleaner_io_buffer_load_factor,
                max_io_bytes_per_second=config.log_cleaner_io_max_bytes_per_second,
                backoff_ms=config.log_cleaner_backoff_ms,
            ),
        )
        clean = log_manager.had_clean_shutdown
        image = MetadataImage()
        metadata_log = MetadataLog.open(metadata_dir, clean_shutdown=clean)
        replay = MetadataDelta()
        for offset, record in metadata_log.replay():
            image.apply(record, replay)
            image.offset = offset

        def topic_configs() -> TopicConfigs:
            return TopicConfigs(broker_layers(config, image))

        def log_config_for(topic: str) -> LogConfig:
            return topic_configs().log_config(image.topic_configs(topic))

        controller = QuorumController(
            node_id=config.node_id,
            image=image,
            metadata_log=metadata_log,
            validate_topic_configs=lambda overrides: topic_configs().validate(overrides),
            default_num_partitions=config.num_partitions,
            default_replication_factor=config.default_replication_factor,
            delete_topic_enable=config.delete_topic_enable,
        )
        replica_manager = ReplicaManager(
            node_id=config.node_id,
            log_manager=log_manager,
            image=image,
            log_config_for=log_config_for,
        )
        log_manager.startup(
            topic_ids={t.name: t.topic_id for t in image.topics_by_name.values()},
            log_config_for=log_config_for,
        )
        replica_manager.load_from_image()
        for tp in list(log_manager.all_partitions()):
            if tp not in replica_manager.partitions:
                logger.info("deleting log %s: its topic no longer exists", tp)
                log_manager.delete_log(tp)
        controller.add_listener(replica_manager.apply_delta)
        group_coordinator = GroupCoordinator(
            node_id=config.node_id,
            config=GroupConfig.from_broker(config),
            replica_manager=replica_manager,
            controller=controller,
            image=image,
        )
        # After the replica manager: the coordinator loads partitions that listener created.
        controller.add_listener(group_coordinator.on_metadata_delta)
        endpoints = {
            listener.name: Endpoint(listener.name, listener.host or _default_host(), listener.port)
            for listener in config.effective_advertised_listeners
        }
        return BrokerServices(
            node_id=config.node_id,
            cluster_id=log_manager.cluster_id,
            config=config,
            image=image,
            controller=controller,
            replica_manager=replica_manager,
            log_manager=log_manager,
            producer_ids=ProducerIdManager(controller),
            group_coordinator=group_coordinator,
            endpoints=endpoints,
            rack=config.broker_rack,
        )

    async def start(self) -> None:
        started = time.monotonic()
        self.services = services = self._build()
        dispatcher = Dispatcher(services)
        # Replays __consumer_offsets in the background; its groups answer LOAD_IN_PROGRESS meanwhile.
        services.group_coordinator.startup()
        loop = asyncio.get_running_loop()
        for listener in self.config.listeners:
            server = await loop.create_server(
                lambda name=listener.name: KafkaConnection(
                    dispatcher=dispatcher,
                    listener=name,
                    max_request_size=self.config.socket_request_max_bytes,
                    connections=self._connections,
                ),
                host=listener.host or None,
                port=listener.port,
                reuse_address=True,
                backlog=512,
            )
            self._servers.append(server)
            self.bound_ports[listener.name] = server.sockets[0].getsockname()[1]
            # Tests bind port 0; advertise the port the kernel picked.
            if listener.port == 0 and listener.name in services.endpoints:
                endpoint = services.endpoints[listener.name]
                services.endpoints[listener.name] = Endpoint(
                    endpoint.listener, endpoint.host, self.bound_ports[listener.name]
                )
        self._schedule("retention", self.config.log_retention_check_interval_ms / 1000, self._retention)
        self._schedule("flush", self.config.log_flush_scheduler_interval_ms / 1000, self._flush)
        self._schedule("checkpoint", CHECKPOINT_INTERVAL_S, self._checkpoint)
        self._schedule("file deletion", 1.0, self._delete_files)
        if services.log_manager.cleaner is not None:
            self._tasks.append(loop.create_task(self._log_cleaner(), name="log cleaner"))
        addresses = ", ".join(
            f"{name}://{self._host_of(name)}:{port}" for name, port in self.bound_ports.items()
        )
        logger.info(
            "Brook broker %d started in %.2fs, cluster %s, listening on %s, %d partition(s) in %s",
            self.config.node_id,
            time.monotonic() - started,
            services.cluster_id,
            addresses,
            len(services.replica_manager.partitions),
            ", ".join(str(d) for d in self.config.log_dirs),
        )

    def _host_of(self, listener_name: str) -> str:
        for listener in self.config.listeners:
            if listener.name == listener_name:
                return listener.host or "0.0.0.0"
        return "?"

    # --- periodic work --------------------------------------------------------------

    def _schedule(self, name: str, interval_s: float, job: Callable[[], Awaitable[None]]) -> None:
        async def run() -> None:
            while True:
                await asyncio.sleep(interval_s)
                try:
                    await job()
                except Exception:
                    logger.exception("background job %r failed; it will run again", name)

        self._tasks.append(asyncio.get_running_loop().create_task(run(), name=name))

    async def _retention(self) -> None:
        assert self.services is not None
        deleted = self.services.log_manager.cleanup_logs(_now_ms())
        if deleted:
            logger.info("retention deleted %d segment(s)", deleted)

    async def _flush(self) -> None:
        assert self.services is not None
        # fsync can block for a while; keep it off the event loop.
        await asyncio.to_thread(self.services.log_manager.flush_dirty_logs, _now_ms())

    async def _checkpoint(self) -> None:
        assert self.services is not None
        # Six fsyncs: off the event loop, like the flush (LogManager.checkpoint is thread-safe).
        await asyncio.to_thread(self.services.log_manager.checkpoint)

    async def _delete_files(self) -> None:
        assert self.services is not None
        self.services.log_manager.delete_pending_files(_now_ms())

    async def _log_cleaner(self) -> None:
        """Compact one log per pass, in a worker thread; back off when nothing is dirty enough."""
        assert self.services is not None
        log_manager = self.services.log_manager
        assert log_manager.cleaner is not None
        backoff_s = log_manager.cleaner.config.backoff_ms / 1000
        while True:
            try:
                stats = await asyncio.to_thread(log_manager.clean_logs, _now_ms())
            except Exception:
                logger.exception("log cleaner pass failed; it will run again")
                stats = None
            if stats is None:
                await asyncio.sleep(backoff_s)

    # --- shutdown -------------------------------------------------------------------

    async def shutdown(self) -> None:
        logger.info("shutting down: closing listeners")
        for server in self._servers:
            server.close()
        if self.services is not None:
            # Parked JoinGroup/SyncGroup requests are answered NOT_COORDINATOR, not left hanging.
            await self.services.group_coordinator.shutdown()
        await asyncio.gather(*(c.drain_and_close() for c in list(self._connections)), return_exceptions=True)
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self.services is not None:
            self.services.log_manager.shutdown()
            self.services.controller.close()
        logger.info("shutdown complete")
