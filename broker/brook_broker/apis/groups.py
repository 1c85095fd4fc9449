"""Consumer group APIs: FindCoordinator (10), JoinGroup (11), Heartbeat (12), LeaveGroup (13),
SyncGroup (14), DescribeGroups (15), ListGroups (16) and DeleteGroups (42).

The handlers translate between kio's wire classes and the group coordinator's messages
(`coordinator.group.messages`); every rule lives in the coordinator. Wire-version
differences that are not just missing fields are handled here, as Kafka's request/response
classes do: FindCoordinator batches keys from v4, LeaveGroup batches members from v3,
JoinGroup v0 has no rebalance timeout (it is the session timeout), protocol names are
non-nullable before JoinGroup v7, and SyncGroup v5 requires protocol type and name.
"""

from __future__ import annotations

from typing import Any

from kio.schema.delete_groups.v2.response import DeletableGroupResult, DeleteGroupsResponse
from kio.schema.describe_groups.v6.response import (
    DescribedGroup,
    DescribedGroupMember,
    DescribeGroupsResponse,
)
from kio.schema.find_coordinator.v3.response import FindCoordinatorResponse as FindCoordinatorResponseV3
from kio.schema.find_coordinator.v6.response import Coordinator, FindCoordinatorResponse
from kio.schema.heartbeat.v4.response import HeartbeatResponse
from kio.schema.join_group.v9.response import JoinGroupResponse, JoinGroupResponseMember
from kio.schema.leave_group.v2.response import LeaveGroupResponse as LeaveGroupResponseV2
from kio.schema.leave_group.v5.response import LeaveGroupResponse, MemberResponse
from kio.schema.list_groups.v5.response import ListedGroup, ListGroupsResponse
from kio.schema.sync_group.v5.response import SyncGroupResponse
from kio.schema.types import BrokerId, GroupId
from kio.static.primitive import i32

from brook_broker.apis.context import RequestContext
from brook_broker.apis.registry import api
from brook_broker.coordinator.group import messages as m
from brook_broker.coordinator.group.coordinator import GroupCoordinator
from brook_broker.protocol import codec
from brook_broker.protocol.errors import ErrorCode

#: FindCoordinator key types (Kafka's CoordinatorType).
GROUP_KEY_TYPE = 0
TRANSACTION_KEY_TYPE = 1
#: The operations DescribeGroups reports when asked (no authorizer: all of a group's).
_GROUP_OPERATIONS = (3, 6, 8, 10, 11)  # READ, DELETE, DESCRIBE, DESCRIBE_CONFIGS, ALTER_CONFIGS
GROUP_AUTHORIZED_OPERATIONS = sum(1 << op for op in _GROUP_OPERATIONS)
OPERATIONS_NOT_REQUESTED = -(2**31)
#: Kafka's default texts for the errors FindCoordinator v0-v3 report with a message.
_ERROR_MESSAGES = {
    ErrorCode.none: "NONE",  # Errors.NONE.message(): Kafka's v0-v3 answers carry it on success
    ErrorCode.coordinator_not_available: "The coordinator is not available.",
    ErrorCode.invalid_request: "This most likely occurs because of a request being malformed by the client "
    "library or the message was sent to an incompatible broker. See the broker logs for more details.",
}


def _coordinator(context: RequestContext) -> GroupCoordinator:
    return context.services.group_coordinator


def _client_host(context: RequestContext) -> str:
    # Kafka prints the client's InetAddress, which reads "/127.0.0.1".
    return f"/{context.client_host}"


# --- FindCoordinator ----------------------------------------------------------------------


def _find(context: RequestContext, key_type: int, key: str) -> tuple[ErrorCode, int, str, int]:
    """``(error, node id, host, port)`` of the coordinator for ``key``."""
    if key_type == TRANSACTION_KEY_TYPE:
        return ErrorCode.coordinator_not_available, -1, "", -1  # no transaction coordinator yet
    if key_type != GROUP_KEY_TYPE:
        return ErrorCode.invalid_request, -1, "", -1
    services = context.services
    error, node_id = _coordinator(context).find_coordinator(key)
    endpoint = services.endpoints.get(context.listener) or next(iter(services.endpoints.values()), None)
    if error != ErrorCode.none or node_id != services.node_id or endpoint is None:
        return ErrorCode.coordinator_not_available if error == ErrorCode.none else error, -1, "", -1
    return ErrorCode.none, node_id, endpoint.host, endpoint.port


@api(10, min_version=0, max_version=6)
async def handle_find_coordinator(context: RequestContext, request: Any) -> Any:
    key_type = getattr(request, "key_type", GROUP_KEY_TYPE)
    if context.api_version >= 4:
        coordinators = []
        for key in request.coordinator_keys:
            error, node_id, host, port = _find(context, key_type, key)
            coordinators.append(
                Coordinator(
                    key=key,
                    node_id=BrokerId(node_id),
                    host=host,
                    port=i32(port),
                    error_code=error,
                    error_message="" if error == ErrorCode.none else _ERROR_MESSAGES.get(error),
                )
            )
        return FindCoordinatorResponse(throttle_time=codec.NO_THROTTLE, coordinators=tuple(coordinators))
    error, node_id, host, port = _find(context, key_type, request.key)
    return FindCoordinatorResponseV3(
        throttle_time=codec.NO_THROTTLE,
        error_code=error,
        error_message=_ERROR_MESSAGES.get(error),
        node_id=BrokerId(node_id),
        host=host,
        port=i32(port),
    )


# --- membership ---------------------------------------------------------------------------


@api(11, min_version=0, max_version=9)
async def handle_join_group(context: RequestContext, request: Any) -> JoinGroupResponse:
    version = context.api_version
    session_ms = codec.timedelta_ms(request.session_timeout)
    response = await _coordinator(context).join_group(
        m.JoinGroupRequest(
            group_id=request.group_id,
            member_id=request.member_id,
            group_instance_id=getattr(request, "group_instance_id", None),
            protocol_type=request.protocol_type,
            protocols=tuple((p.name, p.metadata) for p in request.protocols),
            session_timeout_ms=session_ms,
            # v0 has no rebalance timeout: Kafka uses the session timeout.
            rebalance_timeout_ms=codec.timedelta_ms(request.rebalance_timeout)
            if version >= 1
            else session_ms,
            client_id=context.header.client_id or "",
            client_host=_client_host(context),
            api_version=version,
            reason=getattr(request, "reason", None),
        )
    )
    protocol_name = response.protocol_name
    if version < 7 and protocol_name is None:
        protocol_name = ""  # not nullable before v7
    elif version >= 7 and protocol_name == "":
        protocol_name = None
    return JoinGroupResponse(
        throttle_time=codec.NO_THROTTLE,
        error_code=response.error,
        generation_id=i32(response.generation_id),
        protocol_type=response.protocol_type,
        protocol_name=protocol_name,
        leader=response.leader,
        skip_assignment=response.skip_assignment,
        member_id=response.member_id,
        members=tuple(
            JoinGroupResponseMember(
                member_id=member.member_id,
                group_instance_id=member.group_instance_id,
                metadata=member.metadata,
            )
            for member in response.members
        ),
    )


@api(14, min_version=0, max_version=5)
async def handle_sync_group(context: RequestContext, request: Any) -> SyncGroupResponse:
    protocol_type = getattr(request, "protocol_type", None)
    protocol_name = getattr(request, "protocol_name", None)
    if context.api_version >= 5 and (protocol_type is None or protocol_name is None):
        # From v5 both are mandatory (Kafka's areMandatoryProtocolTypeAndNamePresent).
        return SyncGroupResponse(
            throttle_time=codec.NO_THROTTLE, error_code=ErrorCode.inconsistent_group_protocol, assignment=b""
        )
    response = await _coordinator(context).sync_group(
        m.SyncGroupRequest(
            group_id=request.group_id,
            generation_id=request.generation_id,
            member_id=request.member_id,
            group_instance_id=getattr(request, "group_instance_id", None),
            protocol_type=protocol_type,
            protocol_name=protocol_name,
            assignments=tuple((a.member_id, a.assignment) for a in request.assignments),
        )
    )
    return SyncGroupResponse(
        throttle_time=codec.NO_THROTTLE,
        error_code=response.error,
        protocol_type=response.protocol_type,
        protocol_name=response.protocol_name,
        assignment=response.assignment,
    )


@api(12, min_version=0, max_version=4)
async def handle_heartbeat(context: RequestContext, request: Any) -> HeartbeatResponse:
    error = _coordinator(context).heartbeat(
        m.HeartbeatRequest(
            group_id=request.group_id,
            generation_id=request.generation_id,
            member_id=request.member_id,
            group_instance_id=getattr(request, "group_instance_id", None),
        )
    )
    return HeartbeatResponse(throttle_time=codec.NO_THROTTLE, error_code=error)


@api(13, min_version=0, max_version=5)
async def handle_leave_group(context: RequestContext, request: Any) -> Any:
    if context.api_version >= 3:
        leaving = tuple(
            m.LeavingMember(member.member_id, member.group_instance_id, getattr(member, "reason", None))
            for member in request.members
        )
    else:
        leaving = (m.LeavingMember(request.member_id),)
    response = await _coordinator(context).leave_group(request.group_id, leaving)
    if context.api_version >= 3:
        return LeaveGroupResponse(
            throttle_time=codec.NO_THROTTLE,
            error_code=response.error,
            members=tuple(
                MemberResponse(
                    member_id=r.member_id, group_instance_id=r.group_instance_id, error_code=r.error
                )
                for r in response.members
            ),
        )
    # Before v3 one member left per request and its error is the response's.
    error = response.error
    if error == ErrorCode.none and response.members:
        error = response.members[0].error
    return LeaveGroupResponseV2(throttle_time=codec.NO_THROTTLE, error_code=error)


# --- admin --------------------------------------------------------------------------------


@api(15, min_version=0, max_version=6)
async def handle_describe_groups(context: RequestContext, request: Any) -> DescribeGroupsResponse:
    operations = (
        GROUP_AUTHORIZED_OPERATIONS
        if getattr(request, "include_authorized_operations", False)
        else OPERATIONS_NOT_REQUESTED
    )
    groups = []
    for group_id in request.groups:
        described = _coordinator(context).describe_group(group_id, api_version=context.api_version)
        groups.append(
            DescribedGroup(
                error_code=described.error,
                error_message=described.error_message,
                group_id=GroupId(group_id),
                group_state=described.state,
                protocol_type=described.protocol_type,
                protocol_data=described.protocol_data,
                members=tuple(
                    DescribedGroupMember(
                        member_id=member.member_id,
                        group_instance_id=member.group_instance_id,
                        client_id=member.client_id,
                        client_host=member.client_host,
                        member_metadata=member.metadata,
                        member_assignment=member.assignment,
                    )
                    for member in described.members
                ),
                authorized_operations=i32(
                    operations if described.error == ErrorCode.none else OPERATIONS_NOT_REQUESTED
                ),
            )
        )
    return DescribeGroupsResponse(throttle_time=codec.NO_THROTTLE, groups=tuple(groups))


@api(16, min_version=0, max_version=5)
async def handle_list_groups(context: RequestContext, request: Any) -> ListGroupsResponse:
    error, groups = _coordinator(context).list_groups(
        states=set(getattr(request, "states_filter", ())), types=set(getattr(request, "types_filter", ()))
    )
    return ListGroupsResponse(
        throttle_time=codec.NO_THROTTLE,
        error_code=error,
        groups=tuple(
            ListedGroup(
                group_id=GroupId(g.group_id),
                protocol_type=g.protocol_type,
                group_state=g.group_state,
                group_type=g.group_type,
            )
            for g in groups
        ),
    )


@api(42, min_version=0, max_version=2)
async def handle_delete_groups(context: RequestContext, request: Any) -> DeleteGroupsResponse:
    group_ids = list(dict.fromkeys(request.groups_names))  # Kafka answers each distinct id once
    results = await _coordinator(context).delete_groups(group_ids)
    return DeleteGroupsResponse(
        throttle_time=codec.NO_THROTTLE,
        results=tuple(
            DeletableGroupResult(group_id=GroupId(group_id), error_code=error)
            for group_id, error in results.items()
        ),
    )
