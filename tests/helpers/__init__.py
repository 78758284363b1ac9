"""What the tests share besides their fixtures, one module a subject, with no cycles:

- ``waiting``: wait for an event (a probe polled), never for a clock
- ``ports``: free ports for the servers a test starts
- ``lab``: the lab's messages as its services write them, a new customer's fields
- ``kafka``: produce records, read topics, consumer groups (imports Kafka's client)
- ``stores``: a test's own topics and buckets, bills, jobs and their outcomes in S3
- ``in_process``: HTTP functions run in-process: their settings, a publisher that records,
  a function served over services of its own, a JSON POST to it
- ``processes``: processes started as users start them, with their logs
- ``faults``: a Kafka cluster of a test's own, a proxy that drops connections
- ``cli``: the `billing` command as a user runs it
- ``lambda_esm``: an event source mapping of our own, for the Lambda adapters
- ``oidc``: an OpenID Connect issuer of our own: its keys, its JWTs (and forged ones), its
  JWKS, served over HTTP from a thread for the integration tier

The unit tier uses ``ports``, ``lab``, ``cli`` and ``oidc`` only: its harness,
``tests/unit/harness.py``, is its own, free of Kafka and of ``infra``.
"""
