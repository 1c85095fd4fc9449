"""`GroupStore`: the groups of one ``__consumer_offsets`` partition, of every type, by id.

Shared by the classic group manager, the offsets manager and (next) the KIP-848 consumer
group manager, so that one group id names one group whatever protocol created it. A group
that only ever committed offsets (a standalone consumer, an admin tool) is a *simple* group:
an empty classic group without a protocol type, as in Kafka.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from brook_broker.coordinator.group.classic.group import ClassicGroup
from brook_broker.coordinator.group.common import group_error
from brook_broker.coordinator.group.group import Group
from brook_broker.protocol.errors import ErrorCode


class GroupStore:
    def __init__(self, *, time_ms: Callable[[], int]) -> None:
        self._time_ms = time_ms
        self._groups: dict[str, Group] = {}

    def __contains__(self, group_id: str) -> bool:
        return group_id in self._groups

    def __iter__(self) -> Iterator[Group]:
        return iter(list(self._groups.values()))

    def __len__(self) -> int:
        return len(self._groups)

    def get(self, group_id: str) -> Group | None:
        return self._groups.get(group_id)

    def group(self, group_id: str) -> Group:
        """The group, or GROUP_ID_NOT_FOUND."""
        group = self._groups.get(group_id)
        if group is None:
            raise group_error(ErrorCode.group_id_not_found, f"Group {group_id} not found.")
        return group

    def classic_group(self, group_id: str, *, create: bool) -> ClassicGroup:
        """The classic group ``group_id``, created empty when asked to and missing.

        GROUP_ID_NOT_FOUND when it is missing, INCONSISTENT_GROUP_PROTOCOL when the id names a
        group of another type (Kafka converts empty consumer groups; the KIP-848 manager will).
        """
        group = self._groups.get(group_id)
        if group is None:
            if not create:
                raise group_error(ErrorCode.group_id_not_found, f"Group {group_id} not found.")
            group = ClassicGroup(group_id, time_ms=self._time_ms)
            self._groups[group_id] = group
        if not isinstance(group, ClassicGroup):
            raise group_error(
                ErrorCode.inconsistent_group_protocol, f"Group {group_id} is not a classic group."
            )
        return group

    def put(self, group: Group) -> None:
        self._groups[group.group_id] = group

    def remove(self, group_id: str) -> Group | None:
        return self._groups.pop(group_id, None)
