"""Broker and topic configuration under Kafka's property names, validated with pydantic.

Sits beside `protocol/` at the bottom of the broker's layers: every layer above may read a
config object, none of them parses properties itself.
"""
