"""DescribeConfigs (32), AlterConfigs (33), IncrementalAlterConfigs (44).

Topic resources: overrides live in the metadata image; describing merges them with the
broker's layers (`config.describe`), altering validates and commits ConfigRecords through
the controller. Broker resources (this broker's id, or "" for the cluster default): only
dynamically updatable broker configs may be altered, as in Kafka; those that are topic
defaults (``log.retention.ms``, ``message.max.bytes``, ...) take effect on every topic
that does not override them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from kio.schema.alter_configs.v2.response import AlterConfigsResourceResponse, AlterConfigsResponse
from kio.schema.describe_configs.v4.response import (
    DescribeConfigsResourceResult,
    DescribeConfigsResponse,
    DescribeConfigsResult,
    DescribeConfigsSynonym,
)
from kio.schema.incremental_alter_configs.v1.response import (
    AlterConfigsResourceResponse as IncrementalResourceResponse,
)
from kio.schema.incremental_alter_configs.v1.response import IncrementalAlterConfigsResponse
from kio.static.primitive import i8

from brook_broker.apis.context import BrokerServices, RequestContext
from brook_broker.apis.registry import api
from brook_broker.config import describe
from brook_broker.config.broker_definitions import BROKER_CONFIGS
from brook_broker.config.configdef import ConfigError
from brook_broker.config.describe import ConfigEntry
from brook_broker.config.topic import AlterConfigOp, AlterOp, incremental_alter
from brook_broker.metadata import topic_names
from brook_broker.metadata.controller import ApiError
from brook_broker.metadata.records import BROKER_RESOURCE, TOPIC_RESOURCE
from brook_broker.protocol import codec
from brook_broker.protocol.errors import ErrorCode

#: Kafka leaves a described resource's error message empty (not null) when there is no error.
DESCRIBED = ApiError(ErrorCode.none, "")


def topic_config_entries(services: BrokerServices, overrides: Mapping[str, str]) -> list[ConfigEntry]:
    """Every config of a topic with these overrides (CreateTopics v5+ returns them)."""
    return services.topic_configs().describe(overrides, include_synonyms=False, include_documentation=False)


def _entries_for(
    services: BrokerServices,
    *,
    resource_type: int,
    resource_name: str,
    names: Iterable[str] | None,
    include_synonyms: bool,
    include_documentation: bool,
) -> tuple[ApiError, list[ConfigEntry]]:
    wanted = set(names) if names else None
    if resource_type == TOPIC_RESOURCE:
        if (reason := topic_names.invalid_reason(resource_name)) is not None:
            return ApiError(ErrorCode.invalid_topic_exception, reason), []
        if services.image.topic(resource_name) is None:
            # Kafka answers an unknown topic with an empty message, as it does a success.
            return ApiError(ErrorCode.unknown_topic_or_partition, ""), []
        entries = services.topic_configs().describe(
            services.image.topic_configs(resource_name),
            names=wanted,
            include_synonyms=include_synonyms,
            include_documentation=include_documentation,
        )
        return DESCRIBED, entries
    if resource_type == BROKER_RESOURCE:
        layers = services.config_layers()
        if resource_name == "":
            return DESCRIBED, describe.describe_cluster_default_configs(
                layers=layers,
                names=wanted,
                include_synonyms=include_synonyms,
                include_documentation=include_documentation,
            )
        if not _is_int(resource_name):
            return ApiError(
                ErrorCode.invalid_request, f"Broker id must be an integer, but it is: {resource_name}"
            ), []
        if int(resource_name) != services.node_id:
            return ApiError(
                ErrorCode.invalid_request,
                f"Unexpected broker id, expected {services.node_id} or empty string, "
                f"but received {resource_name}",
            ), []
        return DESCRIBED, describe.describe_broker_configs(
            layers=layers,
            names=wanted,
            include_synonyms=include_synonyms,
            include_documentation=include_documentation,
        )
    return ApiError(
        ErrorCode.invalid_request, f"Brook does not support config resource type {resource_type}."
    ), []


def _is_int(text: str) -> bool:
    """Java's ``Integer.parseInt``: an optional sign, ASCII digits, 32 bits."""
    digits = text[1:] if text[:1] in ("+", "-") else text
    return digits.isascii() and digits.isdigit() and -(2**31) <= int(text) < 2**31


def _check_broker_resource(services: BrokerServices, resource_name: str) -> ApiError | None:
    """The broker a config change is for: "" (cluster default) or this broker's id, as Kafka checks it."""
    if resource_name == "":
        return None
    if not _is_int(resource_name):
        return ApiError(ErrorCode.invalid_request, f"Node id must be an integer, but it is: {resource_name}")
    if int(resource_name) != services.node_id:
        return ApiError(
            ErrorCode.invalid_request,
            f"Unexpected broker id, expected {services.node_id}, but received {resource_name}",
        )
    return None


def _result_entry(entry: ConfigEntry) -> DescribeConfigsResourceResult:
    return DescribeConfigsResourceResult(
        name=entry.name,
        value=entry.value,
        read_only=entry.read_only,
        config_source=i8(int(entry.source)),
        is_sensitive=entry.is_sensitive,
        synonyms=tuple(
            DescribeConfigsSynonym(name=s.name, value=s.value, source=i8(int(s.source)))
            for s in entry.synonyms
        ),
        config_type=i8(entry.config_type_id),
        documentation=entry.documentation,
    )


@api(32, min_version=1, max_version=4)
async def handle_describe_configs(context: RequestContext, request: Any) -> DescribeConfigsResponse:
    include_synonyms = getattr(request, "include_synonyms", False)
    include_documentation = getattr(request, "include_documentation", False)
    results = []
    for resource in request.resources:
        error, entries = _entries_for(
            context.services,
            resource_type=resource.resource_type,
            resource_name=resource.resource_name,
            names=resource.configuration_keys,
            include_synonyms=include_synonyms,
            include_documentation=include_documentation,
        )
        results.append(
            DescribeConfigsResult(
                error_code=error.code,
                error_message=error.message,
                resource_type=resource.resource_type,
                resource_name=resource.resource_name,
                configs=tuple(_result_entry(e) for e in entries),
            )
        )
    return DescribeConfigsResponse(throttle_time=codec.NO_THROTTLE, results=tuple(results))


def _check_broker_configs(configs: Mapping[str, str | None]) -> dict[str, str]:
    """Dynamic broker configs: dynamically updatable and valid, as Kafka's controller checks them.

    Names Kafka does not know are accepted and kept (plugins read their own configs), and
    every refusal is INVALID_REQUEST, as in Kafka's broker config validation.
    """
    checked: dict[str, str] = {}
    for name, value in configs.items():
        if value is None:
            raise ConfigError(
                f"Null value not supported for : {name}", error_code=int(ErrorCode.invalid_request)
            )
        key = BROKER_CONFIGS.get(name)
        if key is not None and not key.internal:
            if not key.dynamic:
                raise ConfigError(
                    f"Cannot update these configs dynamically: [{name}]",
                    error_code=int(ErrorCode.invalid_request),
                )
            try:
                key.validate(key.parse(value))
            except ConfigError as exc:
                raise ConfigError(str(exc), error_code=int(ErrorCode.invalid_request)) from None
        checked[name] = value
    return checked


def _alter(
    services: BrokerServices,
    *,
    resource_type: int,
    resource_name: str,
    new_configs: Mapping[str, str | None],
    validate_only: bool,
) -> ApiError:
    controller = services.controller
    if resource_type == TOPIC_RESOURCE:
        return controller.set_topic_configs(resource_name, new_configs, validate_only=validate_only)
    if resource_type == BROKER_RESOURCE:
        if (error := _check_broker_resource(services, resource_name)) is not None:
            return error
        try:
            checked = _check_broker_configs(new_configs)
        except ConfigError as exc:
            return ApiError(ErrorCode(exc.error_code), str(exc))
        return controller.set_broker_configs(resource_name, checked, validate_only=validate_only)
    return ApiError(
        ErrorCode.invalid_request, f"Brook does not support altering config resource type {resource_type}."
    )


@api(33, min_version=0, max_version=2)
async def handle_alter_configs(context: RequestContext, request: Any) -> AlterConfigsResponse:
    responses = []
    for resource in request.resources:
        error = _alter(
            context.services,
            resource_type=resource.resource_type,
            resource_name=resource.resource_name,
            new_configs={c.name: c.value for c in resource.configs},
            validate_only=request.validate_only,
        )
        responses.append(
            AlterConfigsResourceResponse(
                error_code=error.code,
                error_message=error.message,
                resource_type=resource.resource_type,
                resource_name=resource.resource_name,
            )
        )
    return AlterConfigsResponse(throttle_time=codec.NO_THROTTLE, responses=tuple(responses))


@api(44, min_version=0, max_version=1)
async def handle_incremental_alter_configs(
    context: RequestContext, request: Any
) -> IncrementalAlterConfigsResponse:
    services = context.services
    responses = []
    for resource in request.resources:
        current = services.image.configs.get((resource.resource_type, resource.resource_name), {})
        try:
            ops = [AlterConfigOp(c.name, AlterOp(c.config_operation), c.value) for c in resource.configs]
            new_configs: Mapping[str, str | None] = incremental_alter(current, ops)
        except ValueError as exc:  # ConfigError, or an unknown operation id
            code = exc.error_code if isinstance(exc, ConfigError) else int(ErrorCode.invalid_request)
            error = ApiError(ErrorCode(code), str(exc))
        else:
            error = _alter(
                services,
                resource_type=resource.resource_type,
                resource_name=resource.resource_name,
                new_configs=new_configs,
                validate_only=request.validate_only,
            )
        responses.append(
            IncrementalResourceResponse(
                error_code=error.code,
                error_message=error.message,
                resource_type=resource.resource_type,
                resource_name=resource.resource_name,
            )
        )
    return IncrementalAlterConfigsResponse(throttle_time=codec.NO_THROTTLE, responses=tuple(responses))
