"""ApiVersions side by side: the KIP-511 fallback, and the advertised ranges of what Brook serves.

Clients start every connection with ApiVersions, at the newest version they know; a broker
that does not know that version must answer in v0 with UNSUPPORTED_VERSION so the client can
retry with one it does. Both brokers get the same raw frames.
"""

from __future__ import annotations

import io
import struct
from typing import Any

import pytest
from differential.framework import (
    Observation,
    Scenario,
    Target,
    differs_on_purpose,
    plain,
    run_scenario,
    scenario,
)
from kio.schema.api_versions.v0.response import ApiVersionsResponse as ApiVersionsResponseV0
from kio.schema.api_versions.v3.request import ApiVersionsRequest
from kio.schema.request_header.v2.header import RequestHeader
from kio.serial import entity_writer
from kio.static.primitive import i16, i32

from harness.kafka_wire import decode_response

pytestmark = [pytest.mark.kafka_ref, pytest.mark.xdist_group("kafka_ref")]

API_VERSIONS = 18


def test_same_as_kafka(scenario: Scenario, targets: dict[str, Target]) -> None:
    run_scenario(scenario, targets)


def _frame(api_key: int, version: int, body: bytes, correlation_id: int = 7) -> bytes:
    """A request frame with header v2 (what a flexible-version client sends) and any body."""
    buf = io.BytesIO()
    header = RequestHeader(
        request_api_key=i16(api_key),
        request_api_version=i16(version),
        correlation_id=i32(correlation_id),
        client_id="brook-differential",
    )
    entity_writer(RequestHeader)(buf, header)
    payload = buf.getvalue() + body
    return struct.pack(">i", len(payload)) + payload


def _ranges(response: Any) -> dict[str, list[int]]:
    return {str(int(k.api_key)): [int(k.min_version), int(k.max_version)] for k in response.api_keys}


@scenario
def unknown_api_versions_version(t: Target) -> Observation:
    """ApiVersions v99: UNSUPPORTED_VERSION in a v0 body listing ApiVersions' own range; the connection stays
    usable (the client retries with v3 on it)."""
    new_client_body = b"\x0bbrook-test\x021\x00"  # v3 body: compact strings name, version; no tags
    with t.wire() as wire:
        wire.send_bytes(_frame(API_VERSIONS, 99, new_client_body))
        v0 = decode_response(wire.receive_frame(), ApiVersionsResponseV0)
        retry = wire.request(
            ApiVersionsRequest(client_software_name="brook-test", client_software_version="1")
        )
    ranges = _ranges(v0.body)
    return {
        "correlation_id": v0.correlation_id,
        "error_code": plain(v0.body.error_code),
        "api_versions_range": ranges.get(str(API_VERSIONS)),
        "lists_more_than_api_versions": len(ranges) > 1,
        "retry_error_code": plain(retry.error_code),
    }


@scenario
def unknown_api_key(t: Target) -> Observation:
    """A request with an API key no Kafka release has: the broker closes the connection without answering."""
    with t.wire() as wire:
        wire.send_bytes(_frame(250, 0, b""))
        closed = wire.wait_closed(timeout_s=10)
    return {"connection_closed": closed}


#: Where Brook's range is narrower than Kafka 4.3's for an API it serves, and why (the same
#: reasons are in docs/compatibility.md). An issue that adds an API with a narrower range adds
#: it here; every other served API must advertise exactly Kafka's range.
BROOK_CAPS: dict[int, tuple[list[int], str]] = {
    0: ([3, 12], "Produce v0-v2 are refused by Kafka 4 as well; v13 (topic ids) is not served yet"),
    2: ([1, 10], "ListOffsets v11 (earliest pending upload offset, KIP-1023) is not served"),
    8: ([2, 9], "OffsetCommit v10 (topic ids instead of names, KIP-848) is not served yet"),
    9: ([1, 9], "OffsetFetch v10 (topic ids instead of names, KIP-848) is not served yet"),
    35: ([1, 4], "DescribeLogDirs v5 (the IsCordoned field) is not served"),
}
BROOK_FEATURES = {"supported": {"metadata.version": [7, 25]}, "finalized": {"metadata.version": [25, 25]}}


def _served() -> set[int]:
    """The API keys Brook's registry serves (importing the dispatcher registers every handler)."""
    from brook_broker.apis.dispatcher import Dispatcher  # noqa: F401
    from brook_broker.apis.registry import REGISTRY

    return set(REGISTRY)


def _brook_ranges(kafka: Observation) -> Observation:
    served = _served()
    ranges = {
        key: BROOK_CAPS[int(key)][0] if int(key) in BROOK_CAPS else versions
        for key, versions in kafka["ranges"].items()
        if int(key) in served
    }
    return {"ranges": ranges, "features": BROOK_FEATURES}


@differs_on_purpose(
    "Brook advertises only the APIs it serves (docs/compatibility.md), with Kafka's ranges except "
    + "; ".join(reason for _, reason in BROOK_CAPS.values())
    + "; and only the metadata.version feature (level 25, Kafka 4.0-IV3): no group, share, streams, "
    "transaction, kraft or ELR feature levels",
    brook=_brook_ranges,
)
@scenario
def advertised_ranges(t: Target) -> Observation:
    """ApiVersions v3: the version range of every API, and the supported and finalized feature levels."""
    response = t.call(ApiVersionsRequest(client_software_name="brook-test", client_software_version="1"))
    return {
        "ranges": _ranges(response),
        "features": {
            "supported": {
                f.name: [int(f.min_version), int(f.max_version)] for f in response.supported_features
            },
            "finalized": {
                f.name: [int(f.min_version_level), int(f.max_version_level)]
                for f in response.finalized_features
            },
        },
    }
