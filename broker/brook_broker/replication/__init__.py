"""ReplicaManager: the partitions hosted on this broker, their high watermark, and the purgatories
where acks=all produces and long-poll fetches wait.
"""
