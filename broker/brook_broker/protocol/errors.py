"""Kafka error codes as exceptions, raised by the layers below `apis/` and mapped to the wire.

Kafka maps exceptions to error codes in one table (``Errors.forException``); here each
exception carries its code, so a handler turns any `BrokerError` into a response field
without a lookup. The codes themselves are kio's `ErrorCode` enum.
"""

from __future__ import annotations

from kio.schema.errors import ErrorCode

__all__ = [
    "BrokerError",
    "CorruptRecordError",
    "DuplicateSequenceError",
    "ErrorCode",
    "InvalidProducerEpochError",
    "InvalidRecordError",
    "InvalidRequestError",
    "InvalidTimestampError",
    "OffsetOutOfRangeError",
    "OutOfOrderSequenceError",
    "RecordTooLargeError",
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
