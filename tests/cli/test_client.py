"""`cli.client.Admin`, the typed admin layer, against a real broker (no CLI parsing involved)."""

from __future__ import annotations

import pytest
from kio.schema.errors import ErrorCode

from brook_broker.cli.client import Admin, ConfigSource, KafkaApiError
from brook_broker.cli.connection import BrokerUnreachableError, ConnectionSettings
from harness.brook import BrookProcess


@pytest.fixture
def settings(shared_brook: BrookProcess) -> ConnectionSettings:
    return ConnectionSettings(bootstrap_servers=shared_brook.bootstrap, timeout_s=20)


async def test_topic_lifecycle(settings: ConnectionSettings, unique_topic: str) -> None:
    async with Admin(settings) as admin:
        created = await admin.create_topic(unique_topic, partitions=2, configs={"retention.ms": "60000"})
        assert (created.partitions, created.replication_factor) == (2, 1)

        (described,) = await admin.describe_topics([unique_topic])
        assert described.topic_id == created.topic_id
        assert [p.partition for p in described.partitions] == [0, 1]
        assert described.replication_factor == 1 and not described.internal

        await admin.alter_topic_configs(
            unique_topic, set_configs={"segment.ms": "3600000"}, delete_configs=["retention.ms"]
        )
        configs = {c.name: c for c in (await admin.topic_configs([unique_topic]))[unique_topic]}
        assert configs["segment.ms"].value == "3600000"
        assert configs["segment.ms"].source == ConfigSource.DYNAMIC_TOPIC_CONFIG
        assert configs["retention.ms"].is_default

        await admin.create_partitions(unique_topic, 3)
        (described,) = await admin.describe_topics([unique_topic])
        assert len(described.partitions) == 3

        outcome = await admin.delete_topics([unique_topic, f"{unique_topic}-x"])
        assert outcome[unique_topic] is None
        missing = outcome[f"{unique_topic}-x"]
        assert missing is not None and missing.code == ErrorCode.unknown_topic_or_partition


async def test_validate_only_creates_nothing(settings: ConnectionSettings, unique_topic: str) -> None:
    async with Admin(settings) as admin:
        await admin.create_topic(unique_topic, partitions=3, validate_only=True)
        with pytest.raises(KafkaApiError) as raised:
            await admin.describe_topics([unique_topic])
    assert raised.value.code == ErrorCode.unknown_topic_or_partition


async def test_describe_does_not_auto_create(settings: ConnectionSettings, unique_topic: str) -> None:
    async with Admin(settings) as admin:
        for _ in range(2):
            with pytest.raises(KafkaApiError):
                await admin.describe_topics([unique_topic])
        assert unique_topic not in {t.name for t in await admin.describe_topics()}


async def test_unreachable(closed_port: int) -> None:
    with pytest.raises(BrokerUnreachableError) as raised:
        async with Admin(ConnectionSettings(bootstrap_servers=f"127.0.0.1:{closed_port}")):
            pass
    assert raised.value.reason == "connection refused"
