"""The local event runtime: it owns Kafka, S3 clients and configuration.

- ``triggers``: which topic triggers which function, in which consumer group
- ``worker``: runs one Kafka-triggered function on quix-streams
- ``http``: the functions-framework targets ``coordinator`` and ``crm``
- ``services``: the composition root that builds clients and stores for a process
"""

import contextlib
import warnings

# confluent-kafka's schema registry (imported by quix-streams) imports authlib's
# deprecated httpx module; the warning is theirs and says nothing about this project.
# authlib puts an "always" filter for its warnings first in line when it is imported,
# so ours has to go in after that import to take effect.
with contextlib.suppress(ImportError):
    import authlib.deprecate  # noqa: F401
warnings.filterwarnings("ignore", message="The httpx module is deprecated")
