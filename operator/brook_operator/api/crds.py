"""CustomResourceDefinitions rendered from the pydantic models (the models are the source of truth).

`brook-operator crds` writes `render_all()` to `crds/`; `tests/operator/test_crds.py` fails when the files
are stale, and the Helm chart's copy is checked against them. The OpenAPI v3 schema is made structural
(Kubernetes' rules: no `$ref`, no `anyOf` with null, a type on every node) from pydantic's JSON schema;
CEL rules (`x-kubernetes-validations`) for what a schema cannot say live in `_RULES`, one readable table.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import yaml
from pydantic import BaseModel
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaValue
from pydantic_core import core_schema

from brook_operator.api import consumergroup, kafkacluster, topic
from brook_operator.api.common import GROUP, VERSION


@dataclasses.dataclass(frozen=True)
class Kind:
    """One custom resource kind and how `kubectl` presents it."""

    kind: str
    plural: str
    short_names: tuple[str, ...]
    spec: type[BaseModel]
    status: type[BaseModel]
    description: str
    columns: tuple[dict[str, Any], ...]
    scale: bool = False

    @property
    def crd_name(self) -> str:
        return f"{self.plural}.{GROUP}"


def _ready(json_path_field: str) -> str:
    return f'.status.conditions[?(@.type=="Ready")].{json_path_field}'


_AGE = {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"}
_READY = {"name": "Ready", "type": "string", "jsonPath": _ready("status")}
_REASON = {"name": "Reason", "type": "string", "jsonPath": _ready("reason")}

KINDS: tuple[Kind, ...] = (
    Kind(
        kind="KafkaCluster",
        plural="kafkaclusters",
        short_names=("kc",),
        spec=kafkacluster.KafkaClusterSpec,
        status=kafkacluster.KafkaClusterStatus,
        description="A Brook cluster: Kafka-compatible brokers run as a StatefulSet by the Brook operator.",
        columns=(
            _READY,
            _REASON,
            {"name": "Replicas", "type": "integer", "jsonPath": ".spec.replicas"},
            {"name": "Ready-Replicas", "type": "integer", "jsonPath": ".status.readyReplicas"},
            {"name": "Version", "type": "string", "jsonPath": ".spec.version"},
            _AGE,
            {
                "name": "Bootstrap",
                "type": "string",
                "jsonPath": ".status.listeners[0].bootstrapServers",
                "priority": 1,
            },
        ),
        scale=True,
    ),
    Kind(
        kind="Topic",
        plural="topics",
        short_names=("kt",),
        spec=topic.TopicSpec,
        status=topic.TopicStatus,
        description="A Kafka topic on a KafkaCluster, reconciled from Kubernetes to Kafka.",
        columns=(
            {"name": "Cluster", "type": "string", "jsonPath": ".spec.clusterRef.name"},
            {"name": "Partitions", "type": "integer", "jsonPath": ".spec.partitions"},
            {"name": "RF", "type": "integer", "jsonPath": ".spec.replicationFactor"},
            _READY,
            _REASON,
            _AGE,
            {"name": "Topic", "type": "string", "jsonPath": ".status.topicName", "priority": 1},
        ),
    ),
    Kind(
        kind="ConsumerGroup",
        plural="consumergroups",
        short_names=("kcg",),
        spec=consumergroup.ConsumerGroupSpec,
        status=consumergroup.ConsumerGroupStatus,
        description="A Kafka consumer group: state, members and lag; one-shot offset resets.",
        columns=(
            {"name": "Cluster", "type": "string", "jsonPath": ".spec.clusterRef.name"},
            {"name": "State", "type": "string", "jsonPath": ".status.state"},
            {"name": "Members", "type": "integer", "jsonPath": ".status.members"},
            {"name": "Lag", "type": "integer", "jsonPath": ".status.totalLag"},
            _READY,
            _AGE,
            {"name": "Group", "type": "string", "jsonPath": ".status.groupId", "priority": 1},
        ),
    ),
)


def _immutable_optional(field: str) -> dict[str, str]:
    # A transition rule on the parent: set/unset must not change, and a set value must not change.
    return {
        "rule": f"has(self.{field}) == has(oldSelf.{field})"
        f" && (!has(self.{field}) || self.{field} == oldSelf.{field})",
        "message": f"{field} is immutable",
    }


_MANAGED = json.dumps(list(kafkacluster.MANAGED_BROKER_CONFIG))

#: CEL rules by (kind, dotted path below the CR root). The message is what `kubectl apply` prints.
_RULES: dict[tuple[str, str], list[dict[str, str]]] = {
    ("KafkaCluster", "spec.config"): [
        {
            "rule": f"self.all(k, !(k in {_MANAGED}))",
            "message": "broker config keys managed by the operator cannot be set: "
            + ", ".join(kafkacluster.MANAGED_BROKER_CONFIG),
            "messageExpression": f"'broker config key ' + self.filter(k, k in {_MANAGED})[0]"
            " + ' is managed by the operator and cannot be set'",
        }
    ],
    ("KafkaCluster", "spec.storage"): [
        {
            "rule": "!has(self.size) || !has(oldSelf.size) || self.size == oldSelf.size",
            "message": "storage.size cannot be changed (volume expansion is not supported yet)",
        },
        _immutable_optional("storageClass"),
    ],
    ("KafkaCluster", "spec.listeners"): [
        {
            "rule": "!has(self.external) || self.external.port != self.internal.port",
            "message": "listeners.external.port must differ from listeners.internal.port",
        }
    ],
    ("KafkaCluster", "spec.listeners.external"): [
        {
            "rule": "!has(self.nodePortBase) || self.type == 'NodePort'",
            "message": "nodePortBase is only valid with type NodePort",
        }
    ],
    ("Topic", "spec"): [_immutable_optional("topicName")],
    ("Topic", "spec.clusterRef"): [
        {"rule": "self.name == oldSelf.name", "message": "clusterRef is immutable"}
    ],
    ("ConsumerGroup", "spec"): [_immutable_optional("groupId")],
    ("ConsumerGroup", "spec.clusterRef"): [
        {"rule": "self.name == oldSelf.name", "message": "clusterRef is immutable"}
    ],
    ("ConsumerGroup", "spec.offsetReset"): [
        {
            "rule": "self.strategy != 'datetime' || has(self.datetime)",
            "message": "strategy datetime needs datetime",
        },
        {"rule": "self.strategy != 'offset' || has(self.offset)", "message": "strategy offset needs offset"},
        {"rule": "self.strategy != 'shift' || has(self.shiftBy)", "message": "strategy shift needs shiftBy"},
    ],
}


class _CRDSchemaGenerator(GenerateJsonSchema):
    """pydantic's generator, except that a nested model created by a default factory defaults to `{}`.

    Kubernetes applies a property's default only when its parent object exists; `default: {}` on the
    parent makes the nested defaults (ports, sizes, ...) appear in the stored object, as `kubectl get -o
    yaml` readers expect.
    """

    def default_schema(self, schema: core_schema.WithDefaultSchema) -> JsonSchemaValue:
        factory = schema.get("default_factory")
        if factory is not None:
            inner = self.generate_inner(schema["schema"])
            value = factory()  # type: ignore[call-arg]
            if isinstance(value, BaseModel):
                return {**inner, "default": {}}
            return inner
        return super().default_schema(schema)


def _structural(node: Any, defs: dict[str, Any]) -> Any:
    """pydantic JSON schema -> Kubernetes structural schema (refs inlined, nulls dropped, titles gone)."""
    if isinstance(node, list):
        return [_structural(item, defs) for item in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        target = defs[node["$ref"].rsplit("/", 1)[-1]]
        # Siblings of $ref (description, default) describe the field and win over the target's.
        node = {**target, **{k: v for k, v in node.items() if k != "$ref"}}
    if "anyOf" in node:
        options = [option for option in node["anyOf"] if option != {"type": "null"}]
        if len(options) == 1:
            rest = {k: v for k, v in node.items() if k != "anyOf"}
            node = {**_structural(options[0], defs), **rest}
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in {"title", "$defs"} or (key == "default" and value is None):
            continue
        if key == "additionalProperties" and value is False:
            continue  # unknown fields are pruned by the API server; `false` is not structural
        if key == "description":
            out[key] = " ".join(value.split())  # docstrings wrap lines; kubectl explain re-wraps
        elif key == "properties":
            out[key] = {name: _structural(prop, defs) for name, prop in value.items()}
            if "conditions" in out[key]:
                # metav1.Condition lists are maps keyed by type (server-side apply merges per type).
                out[key]["conditions"] |= {
                    "x-kubernetes-list-type": "map",
                    "x-kubernetes-list-map-keys": ["type"],
                }
        elif key == "const":
            out["enum"] = [value]
        else:
            out[key] = _structural(value, defs)
    if "enum" in out and "type" not in out:
        out["type"] = "string"
    return out


def model_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The structural OpenAPI v3 schema of one model."""
    raw = model.model_json_schema(by_alias=True, mode="validation", schema_generator=_CRDSchemaGenerator)
    schema: dict[str, Any] = _structural(raw, raw.get("$defs", {}))
    return schema


def _at(schema: dict[str, Any], path: str) -> dict[str, Any]:
    node = schema
    for part in path.split("."):
        node = node["properties"][part]
    return node


def crd(kind: Kind) -> dict[str, Any]:
    """The CustomResourceDefinition of one kind."""
    root: dict[str, Any] = {
        "type": "object",
        "description": kind.description,
        "required": ["spec"],
        "properties": {
            "apiVersion": {"type": "string"},
            "kind": {"type": "string"},
            "metadata": {"type": "object"},
            "spec": model_schema(kind.spec),
            "status": model_schema(kind.status),
        },
    }
    for (rule_kind, path), rules in _RULES.items():
        if rule_kind == kind.kind:
            _at(root, path)["x-kubernetes-validations"] = rules
    subresources: dict[str, Any] = {"status": {}}
    if kind.scale:
        subresources["scale"] = {
            "specReplicasPath": ".spec.replicas",
            "statusReplicasPath": ".status.replicas",
            "labelSelectorPath": ".status.selector",
        }
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {
            "name": kind.crd_name,
            "labels": {"app.kubernetes.io/name": "brook", "app.kubernetes.io/part-of": "brook"},
        },
        "spec": {
            "group": GROUP,
            "scope": "Namespaced",
            "names": {
                "kind": kind.kind,
                "listKind": f"{kind.kind}List",
                "plural": kind.plural,
                "singular": kind.kind.lower(),
                "shortNames": list(kind.short_names),
                "categories": ["brook"],
            },
            "versions": [
                {
                    "name": VERSION,
                    "served": True,
                    "storage": True,
                    "subresources": subresources,
                    "additionalPrinterColumns": list(kind.columns),
                    "schema": {"openAPIV3Schema": root},
                }
            ],
        },
    }


_HEADER = "# Generated by `brook-operator crds` from brook_operator.api; do not edit.\n"


def render(kind: Kind) -> str:
    """One CRD as a YAML document, with the do-not-edit header."""
    return _HEADER + str(yaml.safe_dump(crd(kind), sort_keys=False, width=120))


def render_all() -> dict[str, str]:
    """File name -> YAML text for every CRD (`crds/<plural>.brook.dev.yaml`)."""
    return {f"{kind.crd_name}.yaml": render(kind) for kind in KINDS}
