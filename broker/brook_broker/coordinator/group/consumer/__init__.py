"""The KIP-848 consumer group protocol: ConsumerGroupHeartbeat and ConsumerGroupDescribe.

``member`` and ``group`` hold state (rebuilt from the `consumer_records` by replay);
``assignors`` (uniform, range) and ``target`` compute the target assignment, ``reconciliation``
moves each member towards it one safe step at a time; ``subscription`` resolves topic names and
regular expressions against the metadata image; ``heartbeat`` and ``manager`` take the
decisions (Kafka's ``GroupMetadataManager.consumerGroup*``). Plugged into the shard next to
the classic protocol, sharing its group store and offsets.
"""
