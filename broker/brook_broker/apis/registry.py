"""The API registry: which Kafka APIs this broker serves, at which versions, with which handler.

Each handler module declares its API with `@api(key, min_version, max_version)`. The set of
registered APIs *is* the ApiVersions answer, so the broker can never advertise something it
does not serve. The version ranges mirror an Apache Kafka 4.x release (capped where Brook
does not implement the newer versions' semantics), because aiokafka and kafka-python infer
the broker's release from them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeAlias

from kio.static.constants import EntityType

from brook_broker.protocol import codec

if TYPE_CHECKING:
    from brook_broker.apis.context import RequestContext

#: What a handler returns: a response entity (of the newest version it serves; the
#: dispatcher adapts it to the requested version), pre-encoded `Chunks`, or ``None`` for
#: "no response" (acks=0 produce).
Handler: TypeAlias = Callable[["RequestContext", Any], Awaitable[Any]]


class CloseConnection(Exception):  # noqa: N818 - it is an instruction, not an error report
    """The request cannot be answered; the connection must be closed."""


@dataclasses.dataclass(frozen=True, slots=True)
class ApiSpec:
    key: int
    name: str
    min_version: int
    max_version: int
    handler: Handler

    def response_class(self, version: int) -> type[Any]:
        return codec.response_class(self.key, version)


REGISTRY: dict[int, ApiSpec] = {}


def api(key: int, *, min_version: int, max_version: int) -> Callable[[Handler], Handler]:
    """Register ``handler`` for API ``key`` over ``[min_version, max_version]``."""

    def register(handler: Handler) -> Handler:
        if key in REGISTRY:
            raise RuntimeError(f"API key {key} registered twice")
        name = codec.schema_class(key, max_version, EntityType.request).__name__.removesuffix("Request")
        REGISTRY[key] = ApiSpec(key, name, min_version, max_version, handler)
        return handler

    return register
