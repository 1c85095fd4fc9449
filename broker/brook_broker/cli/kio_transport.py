"""Send kio request entities over aiokafka's connections; used by `cli.client` only.

aiokafka owns the connections (bootstrap, ApiVersions negotiation, correlation ids,
reconnects), but its admin request types stop at old versions: Metadata v5 (no topic ids,
and it asks the broker to auto-create the topics it describes), CreateTopics v3 (no
"broker default" partition count), and no IncrementalAlterConfigs at all. kio has a
generated class for every API version, so instead of declaring schemas by hand we wrap a
kio entity in the two small aiokafka interfaces a connection needs: a ``Request`` whose
``prepare`` checks the version against what the broker advertised, and a struct whose
``encode``/``RESPONSE_TYPE.decode`` run kio's native writer and reader.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any, ClassVar, TypeVar

from aiokafka.protocol.api import Request, RequestStruct
from aiokafka.protocol.types import Schema
from kio.serial import entity_reader, entity_writer

T = TypeVar("T")


class UnsupportedApiVersionError(Exception):
    """The broker does not serve the API version this client sends."""


class _ResponseDecoder:
    """Stands in for an aiokafka ``Response`` class: the connection calls ``decode``."""

    def __init__(self, response_type: type[Any]) -> None:
        self.response_type = response_type

    def decode(self, data: io.BytesIO) -> Any:
        # The connection has already consumed the response header from ``data``.
        payload = data.read()
        entity, _ = _reader(self.response_type)(payload, 0)
        return entity


class _KioStruct(RequestStruct):  # type: ignore[misc]  # aiokafka ships no type hints
    # aiokafka checks these class attributes exist; each instance sets its own values.
    API_KEY: int = -1
    API_VERSION: int = -1
    FLEXIBLE_VERSION: bool = False
    RESPONSE_TYPE: Any = None
    SCHEMA: ClassVar[Schema] = Schema()

    def __init__(self, entity: Any, response_type: type[Any]) -> None:
        super().__init__()
        self.entity = entity
        self.API_KEY = int(entity.__api_key__)
        self.API_VERSION = int(entity.__version__)
        self.FLEXIBLE_VERSION = bool(entity.__flexible__)
        self.RESPONSE_TYPE = _ResponseDecoder(response_type)

    def encode(self) -> bytes:
        buffer = io.BytesIO()
        _writer(type(self.entity))(buffer, self.entity)
        return buffer.getvalue()

    def __repr__(self) -> str:
        return repr(self.entity)


class KioRequest(Request[_KioStruct]):  # type: ignore[misc]
    """One kio request entity, sendable with ``AIOKafkaClient.send(node_id, request)``."""

    API_KEY: ClassVar[int] = -1

    def __init__(self, entity: Any, response_type: type[Any]) -> None:
        if response_type.__api_key__ != entity.__api_key__ or response_type.__version__ != entity.__version__:
            raise TypeError(f"{response_type.__name__} does not answer {type(entity).__name__}")
        self.entity = entity
        self.response_type = response_type

    def build(self, request_struct_class: type[_KioStruct]) -> _KioStruct:
        return request_struct_class(self.entity, self.response_type)

    def prepare(self, versions: dict[int, tuple[int, int]]) -> _KioStruct:
        api_key, version = int(self.entity.__api_key__), int(self.entity.__version__)
        name = type(self.entity).__name__.removesuffix("Request")
        if api_key not in versions:
            raise UnsupportedApiVersionError(f"the broker does not serve {name}")
        low, high = versions[api_key]
        if not low <= version <= high:
            raise UnsupportedApiVersionError(
                f"the broker serves {name} v{low}-v{high}; this client needs v{version}"
            )
        return self.build(_KioStruct)


_READERS: dict[type[Any], Callable[[bytes, int], tuple[Any, int]]] = {}
_WRITERS: dict[type[Any], Callable[[io.BytesIO, Any], None]] = {}


def _reader(entity_type: type[Any]) -> Callable[[bytes, int], tuple[Any, int]]:
    # Building a kio reader walks the whole schema; do it once per class.
    if entity_type not in _READERS:
        _READERS[entity_type] = entity_reader(entity_type)
    return _READERS[entity_type]


def _writer(entity_type: type[Any]) -> Callable[[io.BytesIO, Any], None]:
    if entity_type not in _WRITERS:
        _WRITERS[entity_type] = entity_writer(entity_type)
    return _WRITERS[entity_type]


def expect(response: object, response_type: type[T]) -> T:
    """Narrow what ``AIOKafkaClient.send`` returned (typed ``Any``) to the kio response class."""
    if not isinstance(response, response_type):
        raise TypeError(f"expected {response_type.__name__}, got {type(response).__name__}")
    return response
