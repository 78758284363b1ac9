"""The local event runtime: it owns Kafka, S3 clients and configuration.

- ``triggers``: which topic triggers which function, in which consumer group
- ``worker``: runs one Kafka-triggered function on quix-streams
- ``http``: the functions-framework targets ``coordinator`` and ``crm``
- ``services``: the composition root that builds clients and stores for a process
"""
