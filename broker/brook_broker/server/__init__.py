"""asyncio listeners: framing, per-connection in-order responses, request limits, lifecycle."""
