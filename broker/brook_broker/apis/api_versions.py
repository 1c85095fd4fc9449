"""ApiVersions (key 18): the list of APIs and versions, derived from the registry."""

from __future__ import annotations

import functools
from typing import Any

from kio.schema.api_versions.v0.response import ApiVersion as ApiVersionV0
from kio.schema.api_versions.v0.response import ApiVersionsResponse as ApiVersionsResponseV0
from kio.schema.api_versions.v4.response import (
    ApiVersion,
    ApiVersionsResponse,
    FinalizedFeatureKey,
    SupportedFeatureKey,
)
from kio.static.primitive import i16, i64

from brook_broker.apis.context import RequestContext
from brook_broker.apis.registry import REGISTRY, api
from brook_broker.protocol import codec
from brook_broker.protocol.errors import ErrorCode

API_KEY = 18

#: The metadata.version Brook's behaviour corresponds to (Kafka 4.0's 4.0-IV3 = 25).
METADATA_VERSION = 25


@functools.cache
def _api_keys() -> tuple[ApiVersion, ...]:
    return tuple(
        ApiVersion(
            api_key=i16(spec.key), min_version=i16(spec.min_version), max_version=i16(spec.max_version)
        )
        for spec in sorted(REGISTRY.values(), key=lambda s: s.key)
    )


def unsupported_version_response(correlation_id: int) -> bytes:
    """KIP-511: an unknown ApiVersions version gets a v0 body with error 35 and, as Kafka sends,
    only ApiVersions' own range (the client retries with a version from it)."""
    response = ApiVersionsResponseV0(
        error_code=ErrorCode.unsupported_version,
        api_keys=tuple(codec.adapt(key, ApiVersionV0) for key in _api_keys() if key.api_key == API_KEY),
    )
    return codec.encode_response(correlation_id, response)


@api(API_KEY, min_version=0, max_version=4)
async def handle_api_versions(context: RequestContext, request: Any) -> ApiVersionsResponse:
    del request  # client software name/version (v3+) are informational only
    return ApiVersionsResponse(
        error_code=ErrorCode.none,
        api_keys=_api_keys(),
        throttle_time=codec.NO_THROTTLE,
        supported_features=(
            SupportedFeatureKey(
                name="metadata.version", min_version=i16(7), max_version=i16(METADATA_VERSION)
            ),
        ),
        finalized_features_epoch=i64(max(context.services.image.offset, 0)),
        finalized_features=(
            FinalizedFeatureKey(
                name="metadata.version",
                max_version_level=i16(METADATA_VERSION),
                min_version_level=i16(METADATA_VERSION),
            ),
        ),
    )
