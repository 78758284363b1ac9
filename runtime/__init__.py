"""The local event runtime: it owns Kafka, S3 clients and configuration.

- ``triggers``: which topic triggers which function, in which consumer group
- ``kafka``: runs a Kafka-triggered function on quix-streams; the only Kafka client code
- ``timers``: runs a timer-triggered function
- ``http``: the functions-framework targets ``coordinator`` and ``crm``
- ``aws_lambda``: the same functions as Lambda handlers
- ``services``: the composition root that builds clients and stores for a process
- ``config``: the settings of each audience, read from the environment
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
