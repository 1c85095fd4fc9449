"""Kafka's checkpoint and metadata files: exact formats, round trips, malformed input."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from brook_broker.log import checkpoint
from brook_broker.protocol.errors import KafkaStorageError
from brook_broker.protocol.types import TopicPartition


def test_offset_checkpoint_format_and_round_trip(tmp_path: Path) -> None:
    path = tmp_path / checkpoint.RECOVERY_POINT_CHECKPOINT
    offsets = {TopicPartition("orders", 0): 42, TopicPartition("my-topic.v2", 11): 7}
    checkpoint.write_offset_checkpoint(path, offsets)
    assert path.read_text() == "0\n2\norders 0 42\nmy-topic.v2 11 7\n"
    assert checkpoint.read_offset_checkpoint(path) == offsets
    assert not path.with_name(path.name + ".tmp").exists()


def test_missing_checkpoint_reads_empty(tmp_path: Path) -> None:
    assert checkpoint.read_offset_checkpoint(tmp_path / "nope") == {}
    assert checkpoint.read_leader_epoch_checkpoint(tmp_path / "nope") == []


@pytest.mark.parametrize(
    "text",
    ["", "1\n0\n", "0\n2\na 0 1\n", "0\n1\na 0\n", "0\n1\na x 1\n", "zero\n0\n"],
    ids=["empty", "version", "count", "fields", "number", "header"],
)
def test_malformed_offset_checkpoint_raises(tmp_path: Path, text: str) -> None:
    path = tmp_path / "cp"
    path.write_text(text)
    with pytest.raises(KafkaStorageError):
        checkpoint.read_offset_checkpoint(path)


def test_leader_epoch_checkpoint_format(tmp_path: Path) -> None:
    path = tmp_path / checkpoint.LEADER_EPOCH_CHECKPOINT
    checkpoint.write_leader_epoch_checkpoint(path, [(0, 0), (3, 120)])
    assert path.read_text() == "0\n2\n0 0\n3 120\n"
    assert checkpoint.read_leader_epoch_checkpoint(path) == [(0, 0), (3, 120)]


def test_partition_metadata_format(tmp_path: Path) -> None:
    path = tmp_path / checkpoint.PARTITION_METADATA
    topic_id = uuid.UUID("5b6a4e0c-1f34-4b0e-9b8d-1c2d3e4f5a6b")
    checkpoint.write_partition_metadata(path, topic_id)
    assert path.read_text() == "version: 0\ntopic_id: W2pODB80Sw6bjRwtPk9aaw\n"
    assert checkpoint.read_partition_metadata(path) == topic_id
    path.write_text("version: 1\ntopic_id: W2pODB80Sw6bjRwtPk9aaw\n")
    with pytest.raises(KafkaStorageError):
        checkpoint.read_partition_metadata(path)


def test_properties_and_clean_shutdown_marker(tmp_path: Path) -> None:
    path = tmp_path / checkpoint.META_PROPERTIES
    checkpoint.write_properties(path, {"node.id": "1", "version": "1", "cluster.id": "abc"})
    assert checkpoint.read_properties(path) == {"node.id": "1", "version": "1", "cluster.id": "abc"}
    assert not checkpoint.has_clean_shutdown_marker(tmp_path)
    checkpoint.write_clean_shutdown_marker(tmp_path, broker_epoch=5)
    assert checkpoint.has_clean_shutdown_marker(tmp_path)
    assert (tmp_path / checkpoint.CLEAN_SHUTDOWN_FILE).read_text() == '{"version":0,"brokerEpoch":5}'
    checkpoint.remove_clean_shutdown_marker(tmp_path)
    checkpoint.remove_clean_shutdown_marker(tmp_path)  # idempotent
    assert not checkpoint.has_clean_shutdown_marker(tmp_path)
