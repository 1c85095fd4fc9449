"""The classic group protocol (JoinGroup, SyncGroup, Heartbeat, LeaveGroup) of Kafka's consumers."""
