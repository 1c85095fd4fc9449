"""The `brook` command: broker start, topics, produce, consume (rich tables, clear exit codes)."""
