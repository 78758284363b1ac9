"""The local event runtime: it owns Kafka, S3 clients and configuration.

- ``triggers``: which topic triggers which function, in which consumer group
- ``worker``: runs one Kafka-triggered function on quix-streams
- ``http``: the functions-framework targets ``coordinator`` and ``crm``
- ``services``: the composition root that builds clients and stores for a process
"""

import warnings

# confluent-kafka's schema registry (imported by quix-streams) imports authlib's
# deprecated httpx module; the warning is theirs and says nothing about this project.
warnings.filterwarnings("ignore", message="The httpx module is deprecated")
