"""Kafka error codes as exceptions, raised by the layers below `apis/` and mapped to the wire.

Kafka maps exceptions to error codes in one table (``Errors.forException``); here each
exception carries its code, so a handler turns any `BrokerError` into a response field
without a lookup. The codes themselves are kio's `ErrorCode` enum.
"""

from __future__ import annotations

import dataclasses

from kio.schema.errors import ErrorCode

__all__ = [
    "BrokerError",
    "CorruptRecordError",
    "DuplicateSequenceError",
    "ErrorCode",
    "FencedLeaderEpochError",
    "InconsistentTopicIdError",
    "InvalidProducerEpochError",
    "InvalidRecordError",
    "InvalidRequestError",
    "InvalidTimestampError",
    "InvalidTopicError",
    "KafkaStorageError",
    "NotEnoughReplicasError",
    "NotLeaderOrFollowerError",
    "OffsetOutOfRangeError",
    "OutOfOrderSequenceError",
    "RecordBatchTooLargeError",
    "RecordError",
    "RecordTooLargeError",
    "RecordValidationError",
    "UnknownLeaderEpochError",
    "UnknownTopicOrPartitionError",
    "UnsupportedVersionError",
]


class BrokerError(Exception):
    """An error that reaches the client as a Kafka error code (and, where the API has one, a message)."""

    error_code: ErrorCode = ErrorCode.unknown_server_error

    def __init__(self, message: str | None = None, *, error_code: ErrorCode | None = None) -> None:
        super().__init__(message or self.__class__.__name__)
        if error_code is not None:
            self.error_code = error_code

    @property
    def message(self) -> str:
        return str(self)


class CorruptRecordError(BrokerError):
    error_code = ErrorCode.corrupt_message


class InvalidRecordError(BrokerError):
    error_code = ErrorCode.invalid_record


@dataclasses.dataclass(frozen=True, slots=True)
class RecordError:
    """One refused record of a batch: its index in the batch and why (Produce v8+'s record_errors)."""

    batch_index: int
    message: str

    def __str__(self) -> str:
        return f"RecordError(batchIndex={self.batch_index}, message='{self.message}')"


class RecordValidationError(InvalidRecordError):
    """Records of a batch refused one by one; the whole batch is rejected, the errors listed."""

    def __init__(self, record_errors: list[RecordError]) -> None:
        shown = ", ".join(map(str, record_errors[:3]))
        super().__init__(
            f"One or more records have been rejected due to {len(record_errors)} record errors in total, "
            f"and only showing the first three errors at most: [{shown}]"
        )
        self.record_errors = tuple(record_errors)


class RecordTooLargeError(BrokerError):
    error_code = ErrorCode.message_too_large


class InvalidTimestampError(BrokerError):
    error_code = ErrorCode.invalid_timestamp


class OffsetOutOfRangeError(BrokerError):
    error_code = ErrorCode.offset_out_of_range


class UnknownTopicOrPartitionError(BrokerError):
    error_code = ErrorCode.unknown_topic_or_partition


class OutOfOrderSequenceError(BrokerError):
    error_code = ErrorCode.out_of_order_sequence_number


class DuplicateSequenceError(BrokerError):
    error_code = ErrorCode.duplicate_sequence_number


class InvalidProducerEpochError(BrokerError):
    error_code = ErrorCode.invalid_producer_epoch


class InvalidRequestError(BrokerError):
    error_code = ErrorCode.invalid_request


class UnsupportedVersionError(BrokerError):
    error_code = ErrorCode.unsupported_version


class NotEnoughReplicasError(BrokerError):
    error_code = ErrorCode.not_enough_replicas


class NotLeaderOrFollowerError(BrokerError):
    error_code = ErrorCode.not_leader_or_follower


class FencedLeaderEpochError(BrokerError):
    error_code = ErrorCode.fenced_leader_epoch


class UnknownLeaderEpochError(BrokerError):
    error_code = ErrorCode.unknown_leader_epoch


class KafkaStorageError(BrokerError):
    error_code = ErrorCode.kafka_storage_error


class InvalidTopicError(BrokerError):
    error_code = ErrorCode.invalid_topic_exception


class RecordBatchTooLargeError(BrokerError):
    """A produce's record set is larger than a whole segment (``segment.bytes``)."""

    error_code = ErrorCode.record_list_too_large


class InconsistentTopicIdError(BrokerError):
    """A partition directory's ``partition.metadata`` names a different topic id than the metadata."""

    error_code = ErrorCode.inconsistent_topic_id
