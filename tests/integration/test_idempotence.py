"""Idempotent producers: clients with enable.idempotence, and the broker's dedup rules on the wire.

The raw tests play an idempotent producer by hand (InitProducerId, then batches carrying
producer id, epoch and sequence) because only that way can a test send the *same* batch
twice on purpose. Kafka's rules (ProducerStateManager): a retry of one of the last five
batches gets the original base offset and is not written again; a sequence gap is
OUT_OF_ORDER_SEQUENCE_NUMBER; an epoch older than the last one seen is
INVALID_PRODUCER_EPOCH; and the producer state survives a crash, rebuilt from the log.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.brook import BrookProcess, start_brook
from harness.kafka_clients import (
    Message,
    consume_aiokafka,
    consume_confluent,
    create_topic,
    produce_aiokafka,
    produce_confluent,
    produce_kafka_python,
)
from harness.kafka_wire import (
    LATEST_TIMESTAMP,
    KafkaWire,
    fetch_batches,
    init_producer_id_request,
    list_offset,
    new_batch,
    produce,
)

#: librdkafka consumers look up their group coordinator, which creates __consumer_offsets;
#: one partition instead of 50 saves seconds of directory fsyncs per fresh broker.
ONE_OFFSETS_PARTITION = {"offsets_topic_num_partitions": "1"}
OUT_OF_ORDER_SEQUENCE_NUMBER = 45
INVALID_PRODUCER_EPOCH = 47
COUNT = 300


def _messages() -> list[Message]:
    return [Message(value=f"value-{i}".encode(), key=f"k{i % 10}".encode()) for i in range(COUNT)]


def _assert_once_in_order(values: list[bytes | None]) -> None:
    assert values == [m.value for m in _messages()], "every record once, in send order"


@pytest.mark.parametrize("codec", ["none", "lz4"])
def test_confluent_idempotent_producer(shared_brook: BrookProcess, unique_topic: str, codec: str) -> None:
    """librdkafka with enable.idempotence: InitProducerId, sequenced batches, every record exactly once."""
    create_topic(shared_brook.bootstrap, unique_topic)
    offsets = produce_confluent(
        shared_brook.bootstrap,
        unique_topic,
        _messages(),
        compression=codec,
        config={"enable.idempotence": True, "batch.num.messages": 25},
    )
    assert offsets == list(range(COUNT))
    _assert_once_in_order([r.value for r in consume_confluent(shared_brook.bootstrap, unique_topic, COUNT)])
    with KafkaWire.connect(shared_brook.bootstrap) as wire:
        batches = fetch_batches(wire, unique_topic)
    assert batches, "fetched at least one batch"
    assert all(b.producer_id >= 0 and b.base_sequence >= 0 for b in batches), "batches carry the producer id"


@pytest.mark.parametrize("codec", ["none", "gzip"])
def test_aiokafka_idempotent_producer(shared_brook: BrookProcess, unique_topic: str, codec: str) -> None:
    """aiokafka with enable_idempotence=True: every record exactly once, in order."""
    create_topic(shared_brook.bootstrap, unique_topic)
    offsets = produce_aiokafka(
        shared_brook.bootstrap,
        unique_topic,
        _messages(),
        compression=codec,
        enable_idempotence=True,
        max_batch_size=1024,
    )
    assert offsets == list(range(COUNT))
    _assert_once_in_order([r.value for r in consume_aiokafka(shared_brook.bootstrap, unique_topic, COUNT)])


def test_kafka_python_idempotent_by_default(shared_brook: BrookProcess, unique_topic: str) -> None:
    """kafka-python 3 enables idempotence and acks=all by default; its records arrive exactly once."""
    create_topic(shared_brook.bootstrap, unique_topic)
    offsets = produce_kafka_python(shared_brook.bootstrap, unique_topic, _messages(), batch_size=1024)
    assert offsets == list(range(COUNT))
    _assert_once_in_order([r.value for r in consume_confluent(shared_brook.bootstrap, unique_topic, COUNT)])


def _init_producer(wire: KafkaWire) -> tuple[int, int]:
    response = wire.request(init_producer_id_request())
    assert response.error_code == 0
    return int(response.producer_id), int(response.producer_epoch)


def _batch(producer_id: int, epoch: int, sequence: int, size: int = 3) -> bytes:
    values = [f"p{producer_id}-e{epoch}-s{sequence + i}".encode() for i in range(size)]
    return new_batch(values, producer_id=producer_id, producer_epoch=epoch, base_sequence=sequence)


def test_duplicate_batch_gets_the_original_offset(shared_brook: BrookProcess, unique_topic: str) -> None:
    """The same idempotent batch sent twice: the retry is answered with the first base offset, and
    the log holds the batch once (log end offset and the fetched batches unchanged)."""
    create_topic(shared_brook.bootstrap, unique_topic)
    with KafkaWire.connect(shared_brook.bootstrap) as wire:
        producer_id, epoch = _init_producer(wire)
        assert produce(wire, unique_topic, new_batch([b"before"])).error_code == 0  # non-idempotent, offset 0
        first = produce(wire, unique_topic, _batch(producer_id, epoch, 0))
        assert (first.error_code, first.base_offset) == (0, 1)
        retry = produce(wire, unique_topic, _batch(producer_id, epoch, 0))
        assert (retry.error_code, retry.base_offset) == (0, 1), "a duplicate gets the original base offset"
        assert list_offset(wire, unique_topic, LATEST_TIMESTAMP)[0] == 4
        batches = fetch_batches(wire, unique_topic)
        assert [(b.base_offset, b.records_count) for b in batches] == [(0, 1), (1, 3)]
        following = produce(wire, unique_topic, _batch(producer_id, epoch, 3))
        assert (following.error_code, following.base_offset) == (0, 4), "the next sequence appends normally"


def test_retry_of_an_older_batch_among_the_last_five_dedups(
    shared_brook: BrookProcess, unique_topic: str
) -> None:
    """Kafka remembers the last five batches per producer: retrying the third-newest is still a duplicate."""
    create_topic(shared_brook.bootstrap, unique_topic)
    with KafkaWire.connect(shared_brook.bootstrap) as wire:
        producer_id, epoch = _init_producer(wire)
        for n in range(5):
            assert produce(wire, unique_topic, _batch(producer_id, epoch, 3 * n)).base_offset == 3 * n
        retry = produce(wire, unique_topic, _batch(producer_id, epoch, 6))
        assert (retry.error_code, retry.base_offset) == (0, 6)
        assert list_offset(wire, unique_topic, LATEST_TIMESTAMP)[0] == 15


def test_sequence_gap_is_out_of_order(shared_brook: BrookProcess, unique_topic: str) -> None:
    """A batch that skips sequence numbers is refused with OUT_OF_ORDER_SEQUENCE_NUMBER and not written."""
    create_topic(shared_brook.bootstrap, unique_topic)
    with KafkaWire.connect(shared_brook.bootstrap) as wire:
        producer_id, epoch = _init_producer(wire)
        assert produce(wire, unique_topic, _batch(producer_id, epoch, 0)).error_code == 0
        gap = produce(wire, unique_topic, _batch(producer_id, epoch, 10))
        assert gap.error_code == OUT_OF_ORDER_SEQUENCE_NUMBER
        assert list_offset(wire, unique_topic, LATEST_TIMESTAMP)[0] == 3
        assert produce(wire, unique_topic, _batch(producer_id, epoch, 3)).base_offset == 3


def test_old_epoch_is_fenced(shared_brook: BrookProcess, unique_topic: str) -> None:
    """Once a producer id has written with epoch 1, a batch with epoch 0 gets INVALID_PRODUCER_EPOCH."""
    create_topic(shared_brook.bootstrap, unique_topic)
    with KafkaWire.connect(shared_brook.bootstrap) as wire:
        producer_id, epoch = _init_producer(wire)
        assert produce(wire, unique_topic, _batch(producer_id, epoch, 0)).error_code == 0
        bumped = produce(wire, unique_topic, _batch(producer_id, epoch + 1, 0))
        assert (bumped.error_code, bumped.base_offset) == (0, 3), "a new epoch starts again at sequence 0"
        stale = produce(wire, unique_topic, _batch(producer_id, epoch, 3))
        assert stale.error_code == INVALID_PRODUCER_EPOCH
        assert list_offset(wire, unique_topic, LATEST_TIMESTAMP)[0] == 6


def test_producer_state_survives_kill_9(tmp_path: Path) -> None:
    """After SIGKILL and restart the broker rebuilds producer state from the log: retries of the last
    batches still get their original offsets, a gap is still refused, the next batch appends."""
    topic = "idempotent-after-crash"
    with start_brook(tmp_path / "brook", **ONE_OFFSETS_PARTITION) as brook:
        create_topic(brook.bootstrap, topic)
        with KafkaWire.connect(brook.bootstrap) as wire:
            producer_id, epoch = _init_producer(wire)
            for n in range(4):
                assert produce(wire, topic, _batch(producer_id, epoch, 3 * n)).base_offset == 3 * n
        brook.kill()
        brook.start()
        with KafkaWire.connect(brook.bootstrap) as wire:
            for n in (2, 3):
                retry = produce(wire, topic, _batch(producer_id, epoch, 3 * n))
                assert (retry.error_code, retry.base_offset) == (0, 3 * n), (
                    f"retry of batch {n} after restart"
                )
            assert list_offset(wire, topic, LATEST_TIMESTAMP)[0] == 12
            assert (
                produce(wire, topic, _batch(producer_id, epoch, 30)).error_code
                == OUT_OF_ORDER_SEQUENCE_NUMBER
            )
            assert produce(wire, topic, _batch(producer_id, epoch, 12)).base_offset == 12
            batches = fetch_batches(wire, topic)
        assert [b.base_offset for b in batches] == [0, 3, 6, 9, 12]
        assert "Traceback" not in brook.log_path.read_text()
