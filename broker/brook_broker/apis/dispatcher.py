"""Turns one request frame into one response frame: decode, route, handle, adapt, encode.

Called by the server's connection for each frame, strictly in arrival order. Requests the
broker cannot serve end the connection (as Kafka does) with a one-line log: an unknown API
key, a version outside the advertised range, or a body that does not parse. The one
exception is ApiVersions, which must answer an unknown version with UNSUPPORTED_VERSION in
a v0 body so that the client can retry with a version we support (KIP-511).
"""

from __future__ import annotations

import logging
from typing import Any

from brook_broker.apis import (  # noqa: F401 - importing registers the handlers
    api_versions,
    cluster,
    configs,
    consumer_groups,
    delete_records,
    fetch,
    groups,
    list_offsets,
    log_dirs,
    metadata,
    offset_for_leader_epoch,
    offsets,
    produce,
    producer_ids,
    topics,
)
from brook_broker.apis.context import BrokerServices, RequestContext
from brook_broker.apis.registry import REGISTRY, CloseConnection
from brook_broker.protocol import codec
from brook_broker.protocol.errors import BrokerError

__all__ = ["CloseConnection", "Dispatcher"]

logger = logging.getLogger(__name__)


#: A pre-encoded response: a list of bytes and record slices, see `protocol.fetch_response`.
Chunks = list[Any]


class Dispatcher:
    def __init__(self, services: BrokerServices) -> None:
        self.services = services

    async def handle(
        self, frame: bytes | memoryview, *, listener: str, client_host: str
    ) -> bytes | Chunks | None:
        try:
            api_key, api_version, correlation_id = codec.peek_header(frame)
        except BrokerError as exc:
            raise CloseConnection(str(exc)) from None
        spec = REGISTRY.get(api_key)
        if spec is None:
            raise CloseConnection(f"unknown API key {api_key}")
        if not spec.min_version <= api_version <= spec.max_version:
            if api_key == api_versions.API_KEY:
                return api_versions.unsupported_version_response(correlation_id)
            supported = f"{spec.min_version}-{spec.max_version}"
            raise CloseConnection(f"unsupported {spec.name} version {api_version} (supported: {supported})")
        try:
            header, body = codec.decode_request(frame)
        except BrokerError as exc:
            raise CloseConnection(f"cannot parse {spec.name} v{api_version}: {exc}") from None
        context = RequestContext(
            header=header, services=self.services, listener=listener, client_host=client_host
        )
        result = await spec.handler(context, body)
        if result is None or isinstance(result, list):
            return result
        response = codec.adapt(result, spec.response_class(api_version))
        return codec.encode_response(correlation_id, response)
