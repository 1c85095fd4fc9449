"""One module per Kafka API family and the registry that maps an API key to its handler.

ApiVersions is derived from the registry, so the broker advertises exactly what it serves.
"""
