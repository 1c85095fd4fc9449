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
from brook_broker.metadata.controller import ApiError
from brook_broker.metadata.records import BROKER_RESOURCE, TOPIC_RESOURCE
from brook_broker.protocol import codec
from brook_broker.protocol.errors import ErrorCode


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
        if services.image.topic(resource_name) is None:
            return ApiError(
                ErrorCode.unknown_topic_or_partition, f"Topic {resource_name} does not exist."
            ), []
        entries = services.topic_configs().describe(
            services.image.topic_configs(resource_name),
            names=wanted,
            include_synonyms=include_synonyms,
            include_documentation=include_documentation,
        )
        return ApiError(ErrorCode.none), entries
    if resource_type == BROKER_RESOURCE:
        layers = services.config_layers()
        if resource_name == "":
            return ApiError(ErrorCode.none), describe.describe_cluster_default_configs(
                layers=layers,
                names=wanted,
                include_synonyms=include_synonyms,
                include_documentation=include_documentation,
            )
        if resource_name != str(services.node_id):
            return _unexpected_broker(services, resource_name), []
        return ApiError(ErrorCode.none), describe.describe_broker_configs(
            layers=layers,
            names=wanted,
            include_synonyms=include_synonyms,
            include_documentation=include_documentation,
        )
    return ApiError(
        ErrorCode.invalid_request, f"Brook does not support config resource type {resource_type}."
    ), []


def _unexpected_broker(services: BrokerServices, resource_name: str) -> ApiError:
    return ApiError(
        ErrorCode.invalid_request,
        f"Unexpected broker id, expected {services.node_id} or empty string, but received {resource_name}",
    )


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
    """Dynamic broker configs: known, dynamically updatable, and valid."""
    checked: dict[str, str] = {}
    for name, value in configs.items():
        key = BROKER_CONFIGS.get(name)
        if key is None or key.internal:
            raise ConfigError(f"Unknown broker config name: {name}")
        if not key.dynamic:
            raise ConfigError(f"Cannot update these configs dynamically: Set({name})")
        if value is None:
            raise ConfigError(
                f"Null value not supported for : {name}", error_code=int(ErrorCode.invalid_request)
            )
        key.validate(key.parse(value))
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
        if resource_name not in ("", str(services.node_id)):
            return _unexpected_broker(services, resource_name)
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
