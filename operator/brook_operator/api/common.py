"""Building blocks shared by the three CRs: the model base class, conditions, references, value types.

Every CR model derives from `CRModel`: camelCase names on the wire (Kubernetes' convention), snake_case in
Python, and attribute docstrings as field descriptions, so `kubectl explain` shows the same text a reader
of this package sees. `api.crds` turns these models into OpenAPI v3 schemas.
"""

from __future__ import annotations

import datetime
import enum
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema
from pydantic.alias_generators import to_camel

GROUP = "brook.dev"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"

#: The annotation that hands a Topic or ConsumerGroup back to its owner (the operator then leaves it alone).
MANAGED_ANNOTATION = f"{GROUP}/managed"


class CRModel(BaseModel):
    """Base of every spec/status model: camelCase aliases, docstring descriptions, unknown fields refused."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        use_attribute_docstrings=True,
        extra="forbid",
        frozen=True,
    )

    def to_body(self) -> dict[str, Any]:
        """The JSON-ready dict as the API server stores it (aliases, unset optionals left out)."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


def _to_str(value: object) -> object:
    # YAML authors write `retention.ms: 86400000`; Kafka wants strings. Booleans must be quoted, as the
    # CRD's int-or-string schema requires (the API server refuses a bare `true`, so the model does too).
    if isinstance(value, bool):
        raise ValueError('quote booleans: "true" or "false"')  # noqa: TRY004 - pydantic wants ValueError
    if isinstance(value, int | float):
        return str(value)
    return value


#: A Kafka config value: a string or a number in YAML (booleans quoted), always a string to Kafka.
ConfigValue = Annotated[
    str,
    BeforeValidator(_to_str),
    WithJsonSchema({"x-kubernetes-int-or-string": True}),
]

_QUANTITY_PATTERN = r"^(\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\+|-)?[0-9]+))?$"

#: A Kubernetes resource quantity such as `10Gi` or `500m`.
Quantity = Annotated[
    str,
    BeforeValidator(_to_str),
    WithJsonSchema(
        {
            "x-kubernetes-int-or-string": True,
            "pattern": _QUANTITY_PATTERN,
        }
    ),
]

#: A Kubernetes object passed through as is (affinity, a toleration, ...); the API server validates it
#: where it lands (the StatefulSet), so the CRD only requires an object.
KubeObject = Annotated[
    dict[str, Any],
    WithJsonSchema({"type": "object", "x-kubernetes-preserve-unknown-fields": True}),
]


class ConditionStatus(enum.StrEnum):
    TRUE = "True"
    FALSE = "False"
    UNKNOWN = "Unknown"


class Condition(CRModel):
    """One aspect of the resource's state, in the standard metav1.Condition shape."""

    type: str
    """The condition type: Ready, Reconciling, Stalled, or a kind-specific one (see docs/operator.md)."""
    status: ConditionStatus
    """True, False or Unknown."""
    reason: str
    """A CamelCase reason from the documented list for this condition type."""
    message: str = ""
    """A human-readable explanation."""
    last_transition_time: datetime.datetime
    """When the status last changed (not when it was last written)."""
    observed_generation: int | None = None
    """The metadata.generation this condition was computed from."""


class ClusterRef(CRModel):
    """A KafkaCluster in the same namespace."""

    name: str = Field(min_length=1, max_length=253)
    """The name of the KafkaCluster."""


def utcnow() -> datetime.datetime:
    """Now, in UTC with whole seconds (metav1.Time has second precision)."""
    return datetime.datetime.now(datetime.UTC).replace(microsecond=0)
