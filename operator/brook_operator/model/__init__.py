"""Pure builders: a KafkaCluster spec in, Kubernetes objects (plain dicts) out. No I/O here."""
