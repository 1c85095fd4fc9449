"""Apache Kafka's own tools (4.3.1, the reference jars) against Brook, checked line by line.

Each test runs a tool session against Brook and checks what the tool printed, and runs the
same session against the reference Kafka: after normalising addresses, topic ids and log
timestamps, the two transcripts must be equal except for the documented differences below.
The tools run in one JVM per worker (`harness.tool_shell`), the Java client program is compiled
from tests/tools/java with javac, and VerifiableProducer runs as its own process, as
``bin/kafka-verifiable-producer.sh`` would.

Documented differences (docs/compatibility.md):
- Brook does not serve DescribeTopicPartitions (KIP-966), so `kafka-topics --describe` falls
  back to Metadata and prints ``Elr: N/A`` where Kafka prints empty ELR lists;
- Kafka 4.3's ELR stores a cluster-level ``min.insync.replicas`` at bootstrap, which Kafka's
  tools then list among a topic's and the cluster's dynamic configs; Brook has no such record.
"""

from __future__ import annotations

import difflib
import json
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypedDict

import pytest
from kio.schema.api_versions.v3.request import ApiVersionsRequest

from harness import KafkaServer, run_kafka_tool
from harness.brook import BrookProcess
from harness.jvm import QUICK_START_JVM_OPTS
from harness.kafka_wire import KafkaWire, metadata_request, new_batch, produce_request
from harness.tool_shell import ToolShell

pytestmark = [pytest.mark.kafka_ref, pytest.mark.xdist_group("kafka_ref")]

NOT_LEADER_OR_FOLLOWER = 6


@dataclass(frozen=True)
class Broker:
    name: str
    bootstrap: str


@pytest.fixture
def brokers(tools_brook: BrookProcess, kafka_ref: KafkaServer) -> list[Broker]:
    """Brook, then the reference Kafka: every session runs against both."""
    return [Broker("brook", tools_brook.bootstrap), Broker("kafka", kafka_ref.bootstrap)]


# --- transcripts -------------------------------------------------------------------------------

Step = tuple[str, list[str]] | tuple[str, list[str], str]
_LOG_PREFIX = re.compile(r"^\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+\] ", re.MULTILINE)


def normalise(text: str, broker: Broker) -> str:
    """Tool output without what legitimately differs: addresses, topic ids, log timestamps."""
    text = text.replace(broker.bootstrap, "<bootstrap>")
    text = re.sub(r"TopicId: \S+", "TopicId: <id>", text)
    return _LOG_PREFIX.sub("", text)


def _stderr_summary(stderr: str) -> list[str]:
    """stderr without stack frames (the same jars, but reflection frames differ in the shell)."""
    return [
        line
        for line in stderr.splitlines()
        if line.strip() and not line.startswith(("\tat ", "\t... ")) and "Caused by" not in line
    ]


class Entry(TypedDict):
    """One command of a transcript, normalised."""

    command: str
    exit: int
    stdout: list[str]
    stderr: list[str]


def transcript(shell: ToolShell, broker: Broker, steps: Sequence[Step]) -> list[Entry]:
    """Run the steps (tool, args with ``{b}`` for the bootstrap address, optional stdin) in order."""
    out: list[Entry] = []
    for step in steps:
        tool, args = step[0], [a.replace("{b}", broker.bootstrap) for a in step[1]]
        stdin = step[2] if len(step) == 3 else None
        result = shell.run(tool, args, stdin=stdin)
        out.append(
            {
                "command": normalise(" ".join([tool, *args]), broker),
                "exit": result.exit_code,
                "stdout": normalise(result.stdout, broker).splitlines(),
                "stderr": _stderr_summary(normalise(result.stderr, broker)),
            }
        )
    return out


def assert_same(brook: object, kafka: object, *, what: str) -> None:
    if brook != kafka:
        left = json.dumps(kafka, indent=1).splitlines()
        right = json.dumps(brook, indent=1).splitlines()
        diff = "\n".join(difflib.unified_diff(left, right, "kafka", "brook", lineterm=""))
        pytest.fail(f"{what}: Brook's output differs from Kafka's\n{diff}", pytrace=False)


def _edit_stdout(entries: list[Entry], edit: Callable[[str], str | None]) -> list[Entry]:
    """Apply ``edit`` to every stdout line (None drops the line)."""
    edited: list[Entry] = []
    for entry in entries:
        lines = [edit(line) for line in entry["stdout"]]
        edited.append({**entry, "stdout": [line for line in lines if line is not None]})
    return edited


def without_elr(line: str) -> str:
    """Kafka's ``kafka-topics --describe`` line as Brook prints it (documented differences)."""
    line = line.replace("\tElr: \tLastKnownElr: ", "\tElr: N/A\tLastKnownElr: N/A")
    if line.endswith("\tElr: \tLastKnownElr:"):  # splitlines kept no trailing space
        line = line.removesuffix("\tElr: \tLastKnownElr:") + "\tElr: N/A\tLastKnownElr: N/A"
    return re.sub(r"Configs: min\.insync\.replicas=1,?", "Configs: ", line)


def without_cluster_min_insync(line: str) -> str | None:
    """Kafka's ELR bootstrap record for min.insync.replicas, removed from ``kafka-configs`` output."""
    if line.startswith("  min.insync.replicas=") and "DYNAMIC_DEFAULT_BROKER_CONFIG" in line:
        stripped = line.replace("DYNAMIC_DEFAULT_BROKER_CONFIG:min.insync.replicas=1, ", "")
        return None if "DYNAMIC_DEFAULT_BROKER_CONFIG" in stripped else stripped
    return line


def _wait_for_broker_value(shell: ToolShell, broker: Broker, entity: Sequence[str], expected: str) -> None:
    """Describe ``entity`` with kafka-configs until a config line starts with ``  <expected>``."""
    args = [*(a.replace("{b}", broker.bootstrap) for a in entity), "--describe"]
    deadline = time.monotonic() + 15
    while not any(line.startswith(f"  {expected}") for line in shell.run("kafka-configs", args).lines):
        assert time.monotonic() < deadline, f"{broker.name}: {expected.strip()} never took effect"
        time.sleep(0.2)


def _wait_gone(broker: Broker, topic: str) -> None:
    """Kafka applies a deletion to its metadata a moment after answering DeleteTopics."""
    deadline = time.monotonic() + 15
    with KafkaWire.connect(broker.bootstrap) as wire:
        while int(wire.request(metadata_request(topic)).topics[0].error_code) == 0:
            assert time.monotonic() < deadline, f"{topic} still exists on {broker.name}"
            time.sleep(0.1)


# --- kafka-topics ------------------------------------------------------------------------------


def test_kafka_topics(tool_shell: ToolShell, brokers: list[Broker], unique_topic: str) -> None:
    """TopicCommand: create (with a config), list, describe, alter partitions, delete, and its errors."""
    t = unique_topic
    steps: list[Step] = [
        (
            "kafka-topics",
            [
                "--bootstrap-server",
                "{b}",
                "--create",
                "--topic",
                t,
                "--partitions",
                "3",
                "--config",
                "retention.ms=3600000",
            ],
        ),
        ("kafka-topics", ["--bootstrap-server", "{b}", "--create", "--topic", t]),
        (
            "kafka-topics",
            ["--bootstrap-server", "{b}", "--create", "--topic", f"{t}-rf", "--replication-factor", "3"],
        ),
        (
            "kafka-topics",
            ["--bootstrap-server", "{b}", "--create", "--topic", f"{t}-bad", "--config", "retention.ms=x"],
        ),
        ("kafka-topics", ["--bootstrap-server", "{b}", "--create", "--topic", "bad/name"]),
        ("kafka-topics", ["--bootstrap-server", "{b}", "--describe", "--topic", t]),
        ("kafka-topics", ["--bootstrap-server", "{b}", "--alter", "--topic", t, "--partitions", "5"]),
        ("kafka-topics", ["--bootstrap-server", "{b}", "--alter", "--topic", t, "--partitions", "2"]),
        ("kafka-topics", ["--bootstrap-server", "{b}", "--describe", "--topic", t]),
        ("kafka-topics", ["--bootstrap-server", "{b}", "--describe", "--topic", f"{t}-missing"]),
        ("kafka-topics", ["--bootstrap-server", "{b}", "--delete", "--topic", t]),
    ]
    runs = {b.name: transcript(tool_shell, b, steps) for b in brokers}
    brook = runs["brook"]
    assert brook[0]["stdout"] == [f"Created topic {t}."]
    assert brook[1]["stdout"] == [f"Error while executing topic command : Topic '{t}' already exists."]
    assert [s["exit"] for s in brook] == [0, 1, 1, 1, 1, 0, 0, 1, 0, 1, 0]
    header, *partitions = brook[8]["stdout"]
    assert header == (
        f"Topic: {t}\tTopicId: <id>\tPartitionCount: 5\tReplicationFactor: 1\tConfigs: retention.ms=3600000"
    )
    assert partitions == [
        f"\tTopic: {t}\tPartition: {p}\tLeader: 1\tReplicas: 1\tIsr: 1\tElr: N/A\tLastKnownElr: N/A"
        for p in range(5)
    ]
    assert_same(brook, _edit_stdout(runs["kafka"], without_elr), what="kafka-topics session")
    for broker in brokers:
        _wait_gone(broker, t)
        listed = tool_shell.run("kafka-topics", ["--bootstrap-server", broker.bootstrap, "--list"])
        assert listed.exit_code == 0 and t not in listed.lines, broker.name


# --- console producer and consumer ---------------------------------------------------------------


def _create_and_produce_keyed(shell: ToolShell, bootstrap: str, topic: str, lines: Sequence[str]) -> Any:
    """kafka-topics --create (2 partitions), then kafka-console-producer with ``key:value`` lines."""
    created = shell.run(
        "kafka-topics", ["--bootstrap-server", bootstrap, "--create", "--topic", topic, "--partitions", "2"]
    )
    assert created.exit_code == 0, created
    args = ["--bootstrap-server", bootstrap, "--topic", topic]
    args += ["--reader-property", "parse.key=true", "--reader-property", "key.separator=:"]
    return shell.run("kafka-console-producer", args, stdin="\n".join(lines) + "\n")


def test_console_producer_and_consumer(
    tool_shell: ToolShell, brokers: list[Broker], unique_topic: str
) -> None:
    """kafka-console-producer with parse.key/key.separator, then kafka-console-consumer per partition
    (--partition/--offset: no consumer group needed) prints every record with its key and offset."""
    t = unique_topic
    lines = [f"key-{i % 3}:value-{i}" for i in range(12)]
    printed: dict[str, list[str]] = {}
    for broker in brokers:
        bootstrap = broker.bootstrap
        produced = _create_and_produce_keyed(tool_shell, bootstrap, t, lines)
        assert (produced.exit_code, produced.stdout, produced.stderr) == (0, "", ""), produced
        ends = _offsets(tool_shell, bootstrap, t, "-1")
        out = []
        for partition, end in sorted(ends.items()):
            out += _consume(tool_shell, bootstrap, t, partition=partition, offset="earliest", count=end)
        out += _consume(tool_shell, bootstrap, t, partition=1, offset="1", count=ends[1] - 1)
        printed[broker.name] = out
    brook = printed["brook"]
    records = [line.split("\t") for line in brook[: len(lines)]]
    assert sorted(f"{key}:{value}" for _, _, key, value in records) == sorted(lines)
    for label in ("Partition:0", "Partition:1"):
        offsets = [int(o.removeprefix("Offset:")) for p, o, _, _ in records if p == label]
        assert offsets == list(range(len(offsets))), f"{label} offsets"
    assert_same(brook, printed["kafka"], what="console consumer output")


def test_console_consumer_in_a_group(tool_shell: ToolShell, brokers: list[Broker], unique_topic: str) -> None:
    """kafka-console-consumer with --group (classic protocol: FindCoordinator, JoinGroup, SyncGroup,
    OffsetCommit) reads every partition from the beginning; kafka-consumer-groups then shows the
    committed offsets, no lag and no active member."""
    t, group = unique_topic, f"{unique_topic}-group"
    lines = [f"key-{i % 3}:value-{i}" for i in range(9)]
    runs: dict[str, dict[str, Any]] = {}
    for broker in brokers:
        bootstrap = broker.bootstrap
        produced = _create_and_produce_keyed(tool_shell, bootstrap, t, lines)
        assert produced.exit_code == 0, produced
        consumed = tool_shell.run(
            "kafka-console-consumer",
            [
                "--bootstrap-server",
                bootstrap,
                "--topic",
                t,
                "--group",
                group,
                "--from-beginning",
                "--max-messages",
                str(len(lines)),
                "--timeout-ms",
                "30000",
                "--formatter-property",
                "print.partition=true",
                "--formatter-property",
                "print.offset=true",
                "--formatter-property",
                "print.key=true",
            ],
            timeout=90,
        )
        assert consumed.exit_code == 0, consumed
        assert consumed.stderr.splitlines()[-1] == f"Processed a total of {len(lines)} messages", consumed
        described = tool_shell.run(
            "kafka-consumer-groups", ["--bootstrap-server", bootstrap, "--describe", "--group", group]
        )
        assert described.exit_code == 0, described
        # Partitions are consumed concurrently: the order across partitions is not defined.
        runs[broker.name] = {
            "records": sorted(consumed.lines),
            "describe": [line.split() for line in described.lines if line.strip()],
            "describe_stderr": described.stderr.strip(),
        }
    brook = runs["brook"]
    assert sorted(r.split("\t", 2)[2].replace("\t", ":") for r in brook["records"]) == sorted(lines)
    assert brook["describe"][0][:6] == [
        "GROUP",
        "TOPIC",
        "PARTITION",
        "CURRENT-OFFSET",
        "LOG-END-OFFSET",
        "LAG",
    ]
    assert all(row[5] == "0" and row[3] == row[4] for row in brook["describe"][1:]), brook["describe"]
    assert brook["describe_stderr"] == f"Consumer group '{group}' has no active members."
    assert_same(brook, runs["kafka"], what="console consumer in a group, then kafka-consumer-groups")


def _offsets(shell: ToolShell, bootstrap: str, topic: str, time_spec: str) -> dict[int, int]:
    result = shell.run(
        "kafka-get-offsets", ["--bootstrap-server", bootstrap, "--topic", topic, "--time", time_spec]
    )
    assert result.exit_code == 0, result
    return {int(line.split(":")[1]): int(line.split(":")[2]) for line in result.lines}


def _consume(
    shell: ToolShell, bootstrap: str, topic: str, *, partition: int, offset: str, count: int
) -> list[str]:
    result = shell.run(
        "kafka-console-consumer",
        [
            "--bootstrap-server",
            bootstrap,
            "--topic",
            topic,
            "--partition",
            str(partition),
            "--offset",
            offset,
            "--max-messages",
            str(count),
            "--timeout-ms",
            "20000",
            "--formatter-property",
            "print.partition=true",
            "--formatter-property",
            "print.offset=true",
            "--formatter-property",
            "print.key=true",
        ],
    )
    assert result.exit_code == 0, result
    assert result.stderr.strip() == f"Processed a total of {count} messages", result.stderr
    return result.lines


# --- offsets: get-offsets, delete-records, log-dirs ----------------------------------------------


def _fill(bootstrap: str, topic: str) -> None:
    """Partition 0: offsets 0-2 at t=1000, 3 at t=5000, 4 at t=3000 (fixed CreateTime timestamps)."""
    with KafkaWire.connect(bootstrap) as wire:
        for values, ts in (([b"a", b"b", b"c"], 1000), ([b"d"], 5000), ([b"e"], 3000)):
            deadline = time.monotonic() + 10
            while True:  # Kafka leads a partition a moment after kafka-topics --create returns
                response = wire.request(produce_request(topic, new_batch(values, timestamp_ms=ts)))
                error = response.responses[0].partition_responses[0].error_code
                if error != NOT_LEADER_OR_FOLLOWER or time.monotonic() > deadline:
                    break
                time.sleep(0.1)
            assert error == 0, error


def test_offsets_tools(
    tool_shell: ToolShell, brokers: list[Broker], unique_topic: str, tmp_path: Path
) -> None:
    """kafka-get-offsets (latest, earliest, max timestamp, by timestamp), kafka-delete-records (then the
    new earliest offset) and kafka-log-dirs (partition sizes) print the same as against Kafka."""
    t = unique_topic
    offsets_file = tmp_path / "delete.json"
    offsets_file.write_text(
        json.dumps({"partitions": [{"topic": t, "partition": 0, "offset": 2}], "version": 1})
    )
    steps: list[Step] = [
        ("kafka-get-offsets", ["--bootstrap-server", "{b}", "--topic", t]),
        ("kafka-get-offsets", ["--bootstrap-server", "{b}", "--topic", t, "--time", "-2"]),
        ("kafka-get-offsets", ["--bootstrap-server", "{b}", "--topic", t, "--time", "-3"]),
        (
            "kafka-get-offsets",
            ["--bootstrap-server", "{b}", "--topic-partitions", f"{t}:0", "--time", "2000"],
        ),
        (
            "kafka-get-offsets",
            ["--bootstrap-server", "{b}", "--topic-partitions", f"{t}:0", "--time", "9000"],
        ),
        ("kafka-delete-records", ["--bootstrap-server", "{b}", "--offset-json-file", str(offsets_file)]),
        ("kafka-get-offsets", ["--bootstrap-server", "{b}", "--topic", t, "--time", "-2"]),
    ]
    runs = {}
    log_dirs = {}
    for broker in brokers:
        created = tool_shell.run(
            "kafka-topics",
            ["--bootstrap-server", broker.bootstrap, "--create", "--topic", t, "--partitions", "2"],
        )
        assert created.exit_code == 0, created
        _fill(broker.bootstrap, t)
        runs[broker.name] = transcript(tool_shell, broker, steps)
        described = tool_shell.run(
            "kafka-log-dirs", ["--bootstrap-server", broker.bootstrap, "--describe", "--topic-list", t]
        )
        assert described.exit_code == 0, described
        assert described.lines[:2] == [
            "Querying brokers for log directories information",
            "Received log directory information from brokers 1",
        ]
        log_dirs[broker.name] = json.loads(described.lines[2])
    brook = runs["brook"]
    assert [s["stdout"] for s in brook] == [
        [f"{t}:0:5", f"{t}:1:0"],
        [f"{t}:0:0", f"{t}:1:0"],
        [f"{t}:0:3"],  # an empty partition has no max-timestamp offset: not printed
        [f"{t}:0:3"],
        [],
        [
            "Executing records delete operation",
            "Records delete operation completed:",
            f"partition: {t}-0\tlow_watermark: 2",
        ],
        [f"{t}:0:2", f"{t}:1:0"],
    ]
    assert_same(brook, runs["kafka"], what="get-offsets/delete-records session")
    [brook_dir] = log_dirs["brook"]["brokers"][0]["logDirs"]
    assert brook_dir["error"] is None and Path(brook_dir["logDir"]).is_dir()
    sizes = {p["partition"]: p["size"] for p in brook_dir["partitions"]}
    assert sizes[f"{t}-0"] > 0 and sizes[f"{t}-1"] == 0
    [kafka_dir] = log_dirs["kafka"]["brokers"][0]["logDirs"]
    by_name = {
        name: sorted(d["partitions"], key=lambda p: p["partition"])
        for name, d in (("brook", brook_dir), ("kafka", kafka_dir))
    }
    assert_same(by_name["brook"], by_name["kafka"], what="kafka-log-dirs partitions (same bytes, same sizes)")


# --- kafka-configs -------------------------------------------------------------------------------


def test_kafka_configs_topic(tool_shell: ToolShell, brokers: list[Broker], unique_topic: str) -> None:
    """ConfigCommand on a topic: add (including a list value), describe, delete, an invalid value."""
    t = unique_topic
    entity = ["--bootstrap-server", "{b}", "--entity-type", "topics", "--entity-name", t]
    steps: list[Step] = [
        ("kafka-topics", ["--bootstrap-server", "{b}", "--create", "--topic", t]),
        (
            "kafka-configs",
            [*entity, "--alter", "--add-config", "retention.ms=5000,cleanup.policy=[compact,delete]"],
        ),
        ("kafka-configs", [*entity, "--describe"]),
        ("kafka-configs", [*entity, "--alter", "--delete-config", "retention.ms"]),
        ("kafka-configs", [*entity, "--alter", "--add-config", "retention.ms=soon"]),
        ("kafka-configs", [*entity, "--alter", "--add-config", "no.such.config=1"]),
        ("kafka-configs", [*entity, "--describe"]),
    ]
    runs = {b.name: transcript(tool_shell, b, steps) for b in brokers}
    brook = runs["brook"]
    assert brook[2]["stdout"] == [
        f"Dynamic configs for topic {t} are:",
        "  cleanup.policy=compact,delete sensitive=false synonyms={"
        "DYNAMIC_TOPIC_CONFIG:cleanup.policy=compact,delete, DEFAULT_CONFIG:log.cleanup.policy=delete}",
        "  retention.ms=5000 sensitive=false synonyms={DYNAMIC_TOPIC_CONFIG:retention.ms=5000}",
    ]
    assert [s["exit"] for s in brook] == [0, 0, 0, 0, 1, 1, 0]
    assert_same(brook, runs["kafka"], what="kafka-configs topic session")


#: Broker configs whose `--describe --all` lines are compared (the topic defaults and their kin).
BROKER_KEYS = (
    "auto.create.topics.enable",
    "log.retention.hours",
    "log.retention.ms",
    "log.segment.bytes",
    "message.max.bytes",
    "min.insync.replicas",
    "num.partitions",
    "log.cleanup.policy",
    "compression.type",
)


def test_kafka_configs_broker(tool_shell: ToolShell, brokers: list[Broker]) -> None:
    """ConfigCommand on brokers: the cluster default and broker 1, set, described, refused, deleted."""
    default = ["--bootstrap-server", "{b}", "--entity-type", "brokers", "--entity-default"]
    broker_1 = ["--bootstrap-server", "{b}", "--entity-type", "brokers", "--entity-name", "1"]
    steps: list[Step] = [
        ("kafka-configs", [*default, "--alter", "--add-config", "log.retention.ms=7200000"]),
        ("kafka-configs", [*default, "--describe"]),
        ("kafka-configs", [*broker_1, "--alter", "--add-config", "log.retention.ms=3600000"]),
        ("kafka-configs", [*broker_1, "--describe"]),
        ("kafka-configs", [*broker_1, "--alter", "--add-config", "num.partitions=3"]),
        ("kafka-configs", [*broker_1, "--alter", "--add-config", "log.retention.ms=forever"]),
        ("kafka-configs", [*broker_1, "--alter", "--delete-config", "log.retention.ms"]),
        ("kafka-configs", [*default, "--alter", "--delete-config", "log.retention.ms"]),
        ("kafka-configs", [*default, "--describe"]),
    ]
    runs = {}
    all_configs = {}
    for broker in brokers:
        try:
            # Kafka applies a broker's dynamic config a moment after answering the alter: until
            # then its describe shows the new synonym next to the old value. Wait for it to settle.
            runs[broker.name] = transcript(tool_shell, broker, steps[:3])
            _wait_for_broker_value(tool_shell, broker, broker_1, "log.retention.ms=3600000 ")
            runs[broker.name] += transcript(tool_shell, broker, steps[3:])
        finally:  # both brokers are shared with other tests of this worker
            for entity in (default, broker_1):
                args = [a.replace("{b}", broker.bootstrap) for a in entity]
                tool_shell.run("kafka-configs", [*args, "--alter", "--delete-config", "log.retention.ms"])
        described = tool_shell.run(
            "kafka-configs", [*[a.replace("{b}", broker.bootstrap) for a in broker_1], "--describe", "--all"]
        )
        assert described.exit_code == 0, described
        all_configs[broker.name] = [
            line for line in described.lines if line.strip().split("=", 1)[0] in BROKER_KEYS
        ]
    brook = runs["brook"]
    assert brook[3]["stdout"] == [
        "Dynamic configs for broker 1 are:",
        "  log.retention.ms=3600000 sensitive=false synonyms={"
        "DYNAMIC_BROKER_CONFIG:log.retention.ms=3600000, "
        "DYNAMIC_DEFAULT_BROKER_CONFIG:log.retention.ms=7200000, DEFAULT_CONFIG:log.retention.hours=168}",
    ]
    assert brook[4]["stderr"][-1].endswith(
        "InvalidRequestException: Cannot update these configs dynamically: [num.partitions]"
    )
    assert brook[8]["stdout"] == ["Default configs for brokers in the cluster are:"]
    assert_same(
        brook, _edit_stdout(runs["kafka"], without_cluster_min_insync), what="kafka-configs broker session"
    )
    assert len(all_configs["brook"]) == len(BROKER_KEYS)
    kafka_all = [line for line in map(without_cluster_min_insync, all_configs["kafka"]) if line is not None]
    assert_same(all_configs["brook"], kafka_all, what="kafka-configs --describe --all (topic defaults)")


# --- kafka-broker-api-versions -------------------------------------------------------------------


def test_kafka_broker_api_versions(tool_shell: ToolShell, brokers: list[Broker]) -> None:
    """BrokerApiVersionsCommand lists every API the client knows: Brook's served ones with the ranges
    it advertises (all usable by this client), the rest UNSUPPORTED; the same APIs as for Kafka."""
    printed = {}
    for broker in brokers:
        result = tool_shell.run("kafka-broker-api-versions", ["--bootstrap-server", broker.bootstrap])
        assert result.exit_code == 0, result
        printed[broker.name] = result.lines
    header, *apis, closing = printed["brook"]
    assert header == f"{brokers[0].bootstrap} (id: 1 rack: null isFenced: false) -> ("
    assert closing == ")"
    with KafkaWire.connect(brokers[0].bootstrap) as wire:
        response = wire.request(
            ApiVersionsRequest(client_software_name="brook-tools", client_software_version="1")
        )
    served = {int(k.api_key): (int(k.min_version), int(k.max_version)) for k in response.api_keys}
    listed = {}
    for line in apis:
        match = re.fullmatch(r"\t(\w+)\((\d+)\): (.*?),?", line)
        assert match, line
        listed[int(match.group(2))] = match.group(3)
    for key, (low, high) in served.items():
        versions = f"{low}" if low == high else f"{low} to {high}"
        assert listed[key] == f"{versions} [usable: {high}]", key
    assert all(text == "UNSUPPORTED" for key, text in listed.items() if key not in served)
    kafka_names = [re.sub(r": .*", "", line) for line in printed["kafka"][1:-1]]
    assert [re.sub(r": .*", "", line) for line in apis] == kafka_names


# --- Java clients --------------------------------------------------------------------------------


def test_java_client_program(tool_shell: ToolShell, brokers: list[Broker], unique_topic: str) -> None:
    """ClientsCheck (tests/tools/java, compiled with javac): an idempotent acks=all KafkaProducer and an
    assign()+seek() KafkaConsumer; every record lands where Kafka puts it and is read back, in order."""
    t = unique_topic
    count = 40
    outputs = {}
    for broker in brokers:
        created = tool_shell.run(
            "kafka-topics",
            ["--bootstrap-server", broker.bootstrap, "--create", "--topic", t, "--partitions", "2"],
        )
        assert created.exit_code == 0, created
        result = tool_shell.run("ClientsCheck", [broker.bootstrap, t, str(count)], timeout=90)
        assert result.exit_code == 0, result
        outputs[broker.name] = result.lines
    for name, lines in outputs.items():
        sent = [line.split() for line in lines if line.startswith("sent ")]
        read = [line.split() for line in lines if line.startswith("read ") and "of" not in line]
        assert lines[-1] == f"read {count} of {count}", name
        assert [s[2] for s in sent] == [f"value-{i}" for i in range(count)], name
        for partition in ("0", "1"):
            sent_here = [(s[4], s[1], s[2]) for s in sent if s[3] == partition]
            read_here = [(r[2], r[3], r[4]) for r in read if r[1] == partition]
            assert [int(o) for o, _, _ in sent_here] == list(range(len(sent_here))), f"{name} p{partition}"
            assert read_here == sent_here, f"{name} partition {partition}: read back in offset order"
        assert all(r[5] == "CreateTime" for r in read), name
    # The consumer's order across partitions is not defined; per partition it is.
    assert_same(
        sorted(outputs["brook"]),
        sorted(outputs["kafka"]),
        what="ClientsCheck (idempotent producer, assign+seek)",
    )


def test_verifiable_producer_process(tools_brook: BrookProcess, unique_topic: str) -> None:
    """kafka-verifiable-producer as its own JVM (it calls System.exit, like bin/ scripts do): its JSON
    events report every record acknowledged, at consecutive offsets of the topic's one partition."""
    count = 50
    result = run_kafka_tool(
        "kafka-verifiable-producer",
        [
            "--bootstrap-server",
            tools_brook.bootstrap,
            "--topic",
            unique_topic,
            "--max-messages",
            str(count),
            "--acks",
            "-1",
        ],
        jvm_opts=QUICK_START_JVM_OPTS,
        heap="256m",
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    events = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    names = [e["name"] for e in events]
    assert names[0] == "startup_complete" and names[-2:] == ["shutdown_complete", "tool_data"], names
    sends = [e for e in events if e["name"] == "producer_send_success"]
    assert [(e["partition"], e["offset"], e["value"]) for e in sends] == [
        (0, i, str(i)) for i in range(count)
    ]
    assert not [e for e in events if e["name"] == "producer_send_error"]
    tool_data = events[-1]
    assert (tool_data["sent"], tool_data["acked"]) == (count, count)
