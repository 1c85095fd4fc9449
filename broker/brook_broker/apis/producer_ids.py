"""InitProducerId (key 22): ids for idempotent producers.

A producer without a transactional id always gets a fresh id with epoch 0, as in Kafka;
KIP-360's epoch bump is a transaction-coordinator feature for transactional ids.
"""

from __future__ import annotations

from typing import Any

from kio.schema.init_producer_id.v5.response import InitProducerIdResponse
from kio.schema.types import ProducerId
from kio.static.primitive import i16

from brook_broker.apis.context import RequestContext
from brook_broker.apis.registry import api
from brook_broker.protocol import codec
from brook_broker.protocol.errors import ErrorCode


@api(22, min_version=0, max_version=5)
async def handle_init_producer_id(context: RequestContext, request: Any) -> InitProducerIdResponse:
    if request.transactional_id is not None:
        # Transactions need a transaction coordinator; until then a transactional producer
        # gets a clear, non-retriable error instead of an id whose guarantees we cannot keep.
        return InitProducerIdResponse(
            throttle_time=codec.NO_THROTTLE,
            error_code=ErrorCode.transactional_id_authorization_failed,
            producer_id=ProducerId(-1),
            producer_epoch=i16(-1),
        )
    producer_id = context.services.producer_ids.generate_producer_id()
    return InitProducerIdResponse(
        throttle_time=codec.NO_THROTTLE,
        error_code=ErrorCode.none,
        producer_id=ProducerId(producer_id),
        producer_epoch=i16(0),
    )
