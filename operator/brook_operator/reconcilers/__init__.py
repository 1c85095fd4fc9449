"""Reconcilers, one module per CR kind: `cluster` (ordered steps), `topics`, `groups`.

They take parsed inputs and an `applier.Applier` / `admin.KafkaAdmin`, and return the status to write;
`handlers` wires them to kopf. No kopf imports here, so they are testable without an operator running.
"""
