"""The documented, intentional differences between Brook and Apache Kafka 4.3, in one place.

Each is a reason (shown in the test report and repeated in docs/compatibility.md) and a
function from Kafka's observation to the one Brook must produce, used with
`framework.differs_on_purpose`. Keep this list short: anything else Brook does differently
is a bug.
"""

from __future__ import annotations

from typing import Any

from differential.framework import Observation

#: DescribeConfigs sources.
DYNAMIC_DEFAULT_BROKER, STATIC_BROKER, DEFAULT = 3, 4, 5

ELR_MIN_INSYNC = (
    "Kafka 4.3 enables eligible leader replicas (KIP-966), so its controller stores a cluster-level "
    "min.insync.replicas at bootstrap and reports it with source DYNAMIC_DEFAULT_BROKER_CONFIG; Brook "
    "has no ELR, so the same value comes from the broker's own (static or default) config"
)


def without_elr_min_insync(kafka: Observation) -> Observation:
    """Kafka's observation without the ELR bootstrap record for min.insync.replicas.

    Handles the shapes the scenarios use: ``{name: {"source", "synonyms"}}`` maps (DescribeConfigs),
    ``{"name", "config_source"}`` entries (CreateTopics), and the cluster-default resource, where
    the entry exists only because of that record.
    """

    def fix(node: Any) -> Any:
        if isinstance(node, list):
            return [fix(v) for v in node]
        if not isinstance(node, dict):
            return node
        out = {k: fix(v) for k, v in node.items()}
        entry = out.get("min.insync.replicas")
        if isinstance(entry, dict) and "synonyms" in entry:
            synonyms = [s for s in entry["synonyms"] if s[2] != DYNAMIC_DEFAULT_BROKER]
            if entry["source"] == DYNAMIC_DEFAULT_BROKER or not entry["synonyms"]:
                source = synonyms[0][2] if synonyms else DEFAULT
            else:
                source = entry["source"]
            out["min.insync.replicas"] = {**entry, "source": source, "synonyms": synonyms}
        if out.get("name") == "min.insync.replicas" and out.get("config_source") == DYNAMIC_DEFAULT_BROKER:
            out["config_source"] = DEFAULT
        return out

    return fix(kafka)


def without_cluster_min_insync(kafka: Observation) -> Observation:
    """The cluster-default resource ("") as Brook has it: without Kafka's ELR bootstrap entry."""
    configs = {k: v for k, v in kafka["configs"].items() if k != "min.insync.replicas"}
    return {**kafka, "configs": configs}


AUTO_CREATE_SYNCHRONOUS = (
    "Brook's controller is local, so a Metadata request that auto-creates a topic is answered with the "
    "new topic and its leaders; Kafka's controller creates it asynchronously and the first answer says "
    "UNKNOWN_TOPIC_OR_PARTITION (clients retry). The topic that results is the same"
)


def auto_created_at_once(kafka: Observation) -> Observation:
    return {**kafka, "first_error": "none"}


UNKNOWN_ALTER_OPERATION = (
    "Kafka 4.3 fails an IncrementalAlterConfigs operation id it does not know with "
    "UNKNOWN_SERVER_ERROR (an unhandled exception, no message); Brook answers INVALID_REQUEST and says why"
)


def invalid_request_for_unknown_operation(kafka: Observation) -> Observation:
    assert kafka == {"error_code": "unknown_server_error", "error_message": None}, kafka
    return {"error_code": "invalid_request", "error_message": "9 is not a valid AlterOp"}
