"""librdkafka's all-topics Metadata request (v9+) carries bytes after its body; Kafka ignores them."""

from __future__ import annotations

from confluent_kafka.admin import AdminClient, NewTopic

from harness.brook import BrookProcess


def test_list_topics_with_librdkafka(shared_brook: BrookProcess, unique_topic: str) -> None:
    client = AdminClient({"bootstrap.servers": shared_brook.bootstrap})
    client.create_topics([NewTopic(unique_topic, 1, 1)])[unique_topic].result(30)
    assert unique_topic in client.list_topics(timeout=10).topics
