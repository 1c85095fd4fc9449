"""Broker and topic configuration under Kafka's property names, validated with pydantic.

Sits beside `protocol/` at the bottom of the broker's layers: every layer above may read a
config object, none of them parses properties itself. Entry points:

* `broker.load_broker_config` -> `broker.BrokerConfig` (the CLI, at startup);
* `topic.TopicConfigs` (apis/ and metadata/: CreateTopics, AlterConfigs,
  IncrementalAlterConfigs, DescribeConfigs) -> `log_config.LogConfig` for log/;
* `describe` for DescribeConfigs entries, `layers.BrokerLayers` to add dynamic configs;
* `configdef.ConfigError`: every refusal, one line, Kafka's wording, with its error code.

The definitions themselves are data in `broker_definitions` and `topic_definitions`.
"""
