"""Brook's Kafka-compatible broker and the `brook` command-line tool."""
