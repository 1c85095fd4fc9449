"""Test harness: reference Apache Kafka 4.x on loopback (jars from Maven Central), for tests and benchmarks.

Import as `harness` (tests/ is put on sys.path by tests/conftest.py). Entry points:
`start_kafka()`, `start_kafka_cluster()`, `run_kafka_tool()`, `ensure_kafka_dist()`; pytest fixtures
`kafka_ref` and `kafka_ref_cluster` in `harness.fixtures`.
"""

from harness.dist import KafkaDist, KafkaDistError, ensure_kafka_dist, kafka_version
from harness.jvm import FAST_START_JVM_OPTS, KAFKA_STOCK_JVM_OPTS, KAFKA_TOOLS, run_kafka_tool
from harness.kafka import (
    KafkaCluster,
    KafkaNode,
    KafkaServer,
    KafkaStartError,
    start_kafka,
    start_kafka_cluster,
)

__all__ = [
    "FAST_START_JVM_OPTS",
    "KAFKA_STOCK_JVM_OPTS",
    "KAFKA_TOOLS",
    "KafkaCluster",
    "KafkaDist",
    "KafkaDistError",
    "KafkaNode",
    "KafkaServer",
    "KafkaStartError",
    "ensure_kafka_dist",
    "kafka_version",
    "run_kafka_tool",
    "start_kafka",
    "start_kafka_cluster",
]
