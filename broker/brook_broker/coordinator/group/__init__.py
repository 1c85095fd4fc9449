"""The group coordinator: consumer groups and their committed offsets, in ``__consumer_offsets``.

Entry point: `coordinator.GroupCoordinator` (the service the `apis/` handlers call), built on
`runtime.CoordinatorRuntime` (loading, the write path, timers). Below them:

- ``shard``: the groups and offsets of one offsets-topic partition; ``loader`` replays a
  partition's log into a shard; ``timer`` runs the shards' timers on the event loop;
- ``classic/``: the classic protocol (JoinGroup/SyncGroup/Heartbeat/LeaveGroup): ``group``
  and ``member`` hold state; ``join``, ``rebalance`` and ``manager`` take the decisions;
- ``offsets``: committed offsets and their rules, shared by every group type through the
  `group.Group` protocol; ``store``: the groups of a shard by id;
- ``records``: the binary record format of ``__consumer_offsets`` (Kafka's, byte for byte);
- ``messages``, ``common``: requests and responses, results, timers, settings.
"""
