"""Brook's Kubernetes operator: runs Brook clusters from `KafkaCluster`, `Topic` and `ConsumerGroup` CRs.

Layers, top to bottom (a layer imports only layers below it; `tests/operator/test_layers.py` checks it):

- `handlers` — the only module with `@kopf.on.*` decorators; parse, call a reconciler, write status.
- `reconcilers` — ordered reconcile steps per CR kind (`cluster`, `topics`, `groups`).
- `resources` — the server-side-apply shell around the Kubernetes API; `admin` — the Kafka admin client.
- `model` — pure builders: a KafkaCluster spec in, Kubernetes objects out (no I/O).
- `api` — pydantic models of the CRs; `brook-operator crds` renders `crds/*.yaml` from them.
"""
