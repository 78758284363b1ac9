"""The billing behaviours, each a plain, stateless function.

HTTP functions (run by functions-framework): ``coordinator``, ``crm_api``.
Kafka-triggered functions (run by ``runtime``): ``engine_start``, ``crm_answer``,
``engine_complete``. None of them builds a Kafka or S3 client: they take typed
messages and stores, and return the messages to produce.
"""
