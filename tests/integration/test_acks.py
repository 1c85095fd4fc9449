"""acks=0, 1 and all, and min.insync.replicas on a single broker.

acks=0 must get no response at all (a client that waited for one would hang or see the next
request's answer under the wrong correlation id) and the data must still arrive; acks=1 and
acks=all answer with offsets; a topic whose min.insync.replicas (2) exceeds the ISR (our one
broker) refuses acks=all with NOT_ENOUGH_REPLICAS before appending, and accepts acks=1.
"""

from __future__ import annotations

import pytest
from confluent_kafka import KafkaError

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
    produce_request,
)

NOT_ENOUGH_REPLICAS = 19


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


def test_min_insync_replicas_above_isr_refuses_acks_all(
    shared_brook: BrookProcess, unique_topic: str
) -> None:
    """min.insync.replicas=2 with one broker: acks=all gets NOT_ENOUGH_REPLICAS and nothing is written;
    acks=1 is accepted (min.insync.replicas only binds acks=all)."""
    create_topic(shared_brook.bootstrap, unique_topic, config={"min.insync.replicas": "2"})
    with KafkaWire.connect(shared_brook.bootstrap) as wire:
        response = wire.request(produce_request(unique_topic, new_batch([b"refused"]), acks=-1))
        partition = response.responses[0].partition_responses[0]
        assert partition.error_code == NOT_ENOUGH_REPLICAS
        assert _latest_offset(wire, unique_topic) == 0, "the refused batch was not appended"

        response = wire.request(produce_request(unique_topic, new_batch([b"accepted"]), acks=1))
        partition = response.responses[0].partition_responses[0]
        assert (partition.error_code, partition.base_offset) == (0, 0)
        assert _latest_offset(wire, unique_topic) == 1


def test_min_insync_replicas_error_reaches_librdkafka(shared_brook: BrookProcess, unique_topic: str) -> None:
    """librdkafka surfaces NOT_ENOUGH_REPLICAS in its delivery report (no retries, so it does not spin)."""
    from confluent_kafka import Producer

    create_topic(shared_brook.bootstrap, unique_topic, config={"min.insync.replicas": "2"})
    producer = Producer(
        {
            "bootstrap.servers": shared_brook.bootstrap,
            "acks": "all",
            "enable.idempotence": False,
            "retries": 0,
            "message.timeout.ms": 10_000,
        }
    )
    errors: list[KafkaError] = []
    producer.produce(unique_topic, b"v", partition=0, on_delivery=lambda err, _msg: errors.append(err))
    assert producer.flush(15) == 0
    assert len(errors) == 1 and errors[0] is not None
    assert errors[0].code() == KafkaError.NOT_ENOUGH_REPLICAS
