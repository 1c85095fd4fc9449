"""acks=0, 1 and all, and min.insync.replicas on a single broker.

acks=0 must get no response at all (a client that waited for one would hang or see the next
request's answer under the wrong correlation id) and the data must still arrive; acks=1 and
acks=all answer with offsets.

min.insync.replicas above the replication factor: Kafka 4.x caps it at the replica count
(``Partition.effectiveMinIsr``, KIP-966), so a single-replica topic with
min.insync.replicas=2 still takes acks=all while its one replica is in sync. Checked against
Apache Kafka 4.3.1; NOT_ENOUGH_REPLICAS needs more replicas than in-sync replicas, which
takes a multi-broker cluster (the fault tests' job).
"""

from __future__ import annotations

import pytest

from harness.brook import BrookProcess
from harness.kafka_clients import (
    Message,
    consume_confluent,
    create_topic,
    produce_confluent,
    wait_until,
)
from harness.kafka_wire import (
    LATEST_TIMESTAMP,
    KafkaWire,
    list_offsets_request,
    metadata_request,
    new_batch,
    produce,
    produce_request,
)


def _latest_offset(wire: KafkaWire, topic: str) -> int:
    response = wire.request(list_offsets_request(topic, LATEST_TIMESTAMP))
    partition = response.topics[0].partitions[0]
    assert partition.error_code == 0
    return int(partition.offset)


def test_acks_0_gets_no_response_but_the_data_arrives(shared_brook: BrookProcess, unique_topic: str) -> None:
    """Raw wire: an acks=0 produce followed by Metadata on one connection; the first answer is Metadata's."""
    create_topic(shared_brook.bootstrap, unique_topic)
    with KafkaWire.connect(shared_brook.bootstrap) as wire:
        for i in range(3):
            wire.send(
                produce_request(unique_topic, new_batch([f"v{i}".encode()]), acks=0), expect_response=False
            )
        metadata_id = wire.send(metadata_request(unique_topic))
        answer = wire.receive()
        assert answer.correlation_id == metadata_id, "acks=0 produce must not be answered"
        assert answer.body.topics[0].error_code == 0
        assert _latest_offset(wire, unique_topic) == 3
    values = [r.value for r in consume_confluent(shared_brook.bootstrap, unique_topic, 3)]
    assert values == [b"v0", b"v1", b"v2"]


def test_acks_0_with_librdkafka(shared_brook: BrookProcess, unique_topic: str) -> None:
    """librdkafka with acks=0 delivers (offsets unknown to it) and a consumer reads every record."""
    create_topic(shared_brook.bootstrap, unique_topic)
    messages = [Message(value=f"v{i}".encode(), key=b"k") for i in range(50)]
    offsets = produce_confluent(shared_brook.bootstrap, unique_topic, messages, config={"acks": 0})
    assert offsets == [-1] * 50, "with acks=0 the client never learns offsets"
    with KafkaWire.connect(shared_brook.bootstrap) as wire:
        wait_until(lambda: _latest_offset(wire, unique_topic) == 50, timeout_s=10, what="50 acks=0 records")
    got = consume_confluent(shared_brook.bootstrap, unique_topic, 50)
    assert [r.value for r in got] == [m.value for m in messages]


@pytest.mark.parametrize("acks", ["1", "all"])
def test_acks_1_and_all_return_offsets(shared_brook: BrookProcess, unique_topic: str, acks: str) -> None:
    """acks=1 and acks=all (min.insync.replicas=1, the default) answer with the assigned offsets."""
    create_topic(shared_brook.bootstrap, unique_topic, config={"min.insync.replicas": "1"})
    messages = [Message(value=f"v{i}".encode()) for i in range(20)]
    offsets = produce_confluent(
        shared_brook.bootstrap, unique_topic, messages, config={"acks": acks, "enable.idempotence": False}
    )
    assert offsets == list(range(20))
    assert [r.value for r in consume_confluent(shared_brook.bootstrap, unique_topic, 20)] == [
        m.value for m in messages
    ]


def test_min_insync_replicas_above_replication_factor_is_capped(
    shared_brook: BrookProcess, unique_topic: str
) -> None:
    """min.insync.replicas=2 on a one-replica topic: acks=all and acks=1 are both accepted (Kafka
    4.x's effective min ISR is min(min.insync.replicas, replicas)), through the wire and librdkafka."""
    create_topic(shared_brook.bootstrap, unique_topic, config={"min.insync.replicas": "2"})
    with KafkaWire.connect(shared_brook.bootstrap) as wire:
        for acks, offset in ((-1, 0), (1, 1)):
            partition = produce(wire, unique_topic, new_batch([b"accepted"]), acks=acks)
            assert (partition.error_code, partition.base_offset) == (0, offset), f"acks={acks}"
        assert _latest_offset(wire, unique_topic) == 2
    offsets = produce_confluent(
        shared_brook.bootstrap,
        unique_topic,
        [Message(value=b"librdkafka")],
        config={"acks": "all", "enable.idempotence": False, "retries": 0},
    )
    assert offsets == [2]
