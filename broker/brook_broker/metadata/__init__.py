"""The cluster metadata: records in a metadata log, the image they build, and the controller
that turns admin requests into records (KRaft-shaped; a single local voter for now).
"""
