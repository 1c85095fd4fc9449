"""One consumer-group member in its own process, for integration tests of the group coordinator.

``python -m harness.group_member --client confluent|aiokafka|kafka-python|java ...`` subscribes to a
topic in a group and prints one JSON line per event on stdout:

    {"event": "assigned", "partitions": [0, 3]}        the member's whole assignment after a rebalance
    {"event": "record", "partition": 0, "offset": 7, "value": "..."}
    {"event": "paused"}                                 after ``--pause-after N`` records (confluent only)
    {"event": "closed"}

Each record is committed (synchronously, offset + 1) *before* its line is printed, so the
printed records are exactly the committed ones. SIGTERM (or ``--max-records``) closes the
consumer cleanly — a dynamic member sends LeaveGroup; SIGKILL is a crash. ``--pause-after N``
stops polling after N records but stays in the group (librdkafka heartbeats on its own thread)
until SIGTERM: a member that holds partitions and has lag, for the tools to describe. Driven by
`harness.group_clients.GroupMember`.

``--group-protocol consumer`` makes confluent-kafka and Java members use KIP-848's protocol (the
coordinator assigns; ``--assignor`` names its server-side assignor). ``--client java`` execs
``harness/java/GroupMember.java`` (kafka-clients from the reference jars), which prints the same
events; a topic starting with ``^`` is a regex subscription there.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

_stopping = False


def _emit(event: str, **fields: Any) -> None:
    print(json.dumps({"event": event, **fields}), flush=True)


def _on_sigterm(signum: int, frame: Any) -> None:
    global _stopping  # noqa: PLW0603 - the signal handler's only way to reach the poll loop
    _stopping = True


def _done(args: argparse.Namespace, count: int) -> bool:
    return _stopping or (args.max_records is not None and count >= args.max_records)


def run_confluent(args: argparse.Namespace) -> None:
    from confluent_kafka import Consumer, TopicPartition

    config = {
        "bootstrap.servers": args.bootstrap,
        "group.id": args.group,
        "group.protocol": args.group_protocol,
        "enable.auto.commit": False,
        "auto.offset.reset": "earliest",
        "client.id": args.client_id,
    }
    if args.group_protocol == "classic":
        config["session.timeout.ms"] = args.session_ms
        config["heartbeat.interval.ms"] = min(1000, args.session_ms // 3)
        config["partition.assignment.strategy"] = args.assignor
    elif args.assignor in ("uniform", "range"):  # KIP-848: timeouts and assignment are the broker's
        config["group.remote.assignor"] = args.assignor
    if args.instance_id:
        config["group.instance.id"] = args.instance_id
    consumer = Consumer(config)
    owned: set[int] = set()
    # KIP-848's assignments are incremental too: callbacks get what was added or revoked.
    cooperative = args.assignor == "cooperative-sticky" or args.group_protocol == "consumer"

    def on_assign(c: Any, partitions: list[Any]) -> None:
        if cooperative:  # incremental: only the partitions added by this rebalance
            owned.update(p.partition for p in partitions)
            c.incremental_assign(partitions)
        else:
            owned.clear()
            owned.update(p.partition for p in partitions)
            c.assign(partitions)
        _emit("assigned", partitions=sorted(owned))

    def on_revoke(c: Any, partitions: list[Any]) -> None:
        if cooperative:
            owned.difference_update(p.partition for p in partitions)
            c.incremental_unassign(partitions)
        else:
            owned.clear()
            c.unassign()
        _emit("assigned", partitions=sorted(owned))

    consumer.subscribe([args.topic], on_assign=on_assign, on_revoke=on_revoke, on_lost=on_revoke)
    count = 0
    while not _done(args, count):
        if args.pause_after is not None and count >= args.pause_after:
            _emit("paused")
            while not _stopping:  # a member until SIGTERM, well within max.poll.interval.ms
                time.sleep(0.05)
            break
        message = consumer.poll(0.2)
        if message is None or message.error() is not None:
            continue
        partition, offset, value = message.partition(), message.offset(), message.value()
        # A record (not an event): it has a partition and an offset, and the tests' records a value.
        assert partition is not None and offset is not None and value is not None
        topic = message.topic() or args.topic
        consumer.commit(offsets=[TopicPartition(topic, partition, offset + 1)], asynchronous=False)
        _emit("record", partition=partition, offset=offset, value=value.decode())
        count += 1
    consumer.close()


def _python_client_options(args: argparse.Namespace) -> dict[str, Any]:
    """kafka-python's and aiokafka's consumer settings (they share the names) for a member."""
    return {
        "bootstrap_servers": args.bootstrap,
        "group_id": args.group,
        "enable_auto_commit": False,
        "auto_offset_reset": "earliest",
        "session_timeout_ms": args.session_ms,
        "heartbeat_interval_ms": min(1000, args.session_ms // 3),
        "client_id": args.client_id,
        "group_instance_id": args.instance_id,
    }


def run_kafka_python(args: argparse.Namespace) -> None:
    from kafka import KafkaConsumer, TopicPartition
    from kafka.consumer.subscription_state import ConsumerRebalanceListener
    from kafka.errors import KafkaConnectionError
    from kafka.structs import OffsetAndMetadata

    consumer = KafkaConsumer(**_python_client_options(args))

    class Listener(ConsumerRebalanceListener):  # type: ignore[misc]
        def on_partitions_revoked(self, revoked: Any) -> None:
            _emit("assigned", partitions=[])

        def on_partitions_assigned(self, assigned: Any) -> None:
            _emit("assigned", partitions=sorted(tp.partition for tp in assigned))

    consumer.subscribe([args.topic], listener=Listener())
    count = 0
    while not _done(args, count):
        try:
            polled = consumer.poll(timeout_ms=200)
        except KafkaConnectionError:
            continue  # kafka-python raises while the broker restarts; an application retries
        for tp, records in polled.items():
            for record in records:
                consumer.commit(
                    {TopicPartition(tp.topic, tp.partition): OffsetAndMetadata(record.offset + 1, "", -1)}
                )
                _emit("record", partition=tp.partition, offset=record.offset, value=record.value.decode())
                count += 1
                if _done(args, count):
                    break
            if _done(args, count):
                break
    consumer.close()


async def run_aiokafka(args: argparse.Namespace) -> None:
    from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition

    consumer = AIOKafkaConsumer(**_python_client_options(args))

    class Listener(ConsumerRebalanceListener):  # type: ignore[misc]
        async def on_partitions_revoked(self, revoked: Any) -> None:
            _emit("assigned", partitions=[])

        async def on_partitions_assigned(self, assigned: Any) -> None:
            _emit("assigned", partitions=sorted(tp.partition for tp in assigned))

    await consumer.start()
    consumer.subscribe([args.topic], listener=Listener())
    count = 0
    try:
        while not _done(args, count):
            batches = await consumer.getmany(timeout_ms=200)
            for tp, records in batches.items():
                for record in records:
                    await consumer.commit({TopicPartition(tp.topic, tp.partition): record.offset + 1})
                    _emit("record", partition=tp.partition, offset=record.offset, value=record.value.decode())
                    count += 1
                    if _done(args, count):
                        break
                if _done(args, count):
                    break
    finally:
        await consumer.stop()


def run_java(args: argparse.Namespace) -> None:
    """Replace this process with the Java member (signals then reach the JVM directly)."""
    from harness.dist import ensure_kafka_dist
    from harness.jvm import java_executable, log4j2_config

    dist = ensure_kafka_dist()
    source = Path(__file__).resolve().with_name("java") / "GroupMember.java"
    log_config = log4j2_config(dist, broker=False)
    command = [java_executable(), "-Xmx256m", f"-Dlog4j2.configurationFile={log_config}"]
    command += ["-cp", dist.classpath, str(source), "--bootstrap", args.bootstrap, "--group", args.group]
    command += ["--topic", args.topic, "--client-id", args.client_id, "--group-protocol", args.group_protocol]
    command += ["--assignor", args.assignor, "--session-ms", str(args.session_ms)]
    if args.instance_id:
        command += ["--instance-id", args.instance_id]
    if args.max_records is not None:
        command += ["--max-records", str(args.max_records)]
    sys.stdout.flush()
    os.execv(command[0], command)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--client", choices=["confluent", "aiokafka", "kafka-python", "java"], required=True)
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--group", required=True)
    parser.add_argument("--topic", required=True)
    parser.add_argument("--client-id", default="member")
    parser.add_argument("--instance-id")
    parser.add_argument("--assignor", default="range")
    parser.add_argument("--session-ms", type=int, default=10_000)
    parser.add_argument("--max-records", type=int)
    parser.add_argument("--pause-after", type=int)
    parser.add_argument("--group-protocol", choices=["classic", "consumer"], default="classic")
    args = parser.parse_args()
    if level := os.environ.get("GROUP_MEMBER_LOG"):
        # The client library's own log on stderr, for diagnosing a member (e.g. GROUP_MEMBER_LOG=DEBUG).
        logging.basicConfig(level=level, stream=sys.stderr, format="%(asctime)s %(name)s %(message)s")
    signal.signal(signal.SIGTERM, _on_sigterm)
    if args.client == "java":
        run_java(args)
    if args.client == "confluent":
        run_confluent(args)
    elif args.client == "kafka-python":
        run_kafka_python(args)
    else:
        asyncio.run(run_aiokafka(args))
    _emit("closed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
