"""The billing behaviours, each a plain, stateless function, a package a subject.

HTTP functions (run by functions-framework): ``runs.coordinator``, ``crm.api``, built on
``http``. Kafka- and timer-triggered functions (run by ``runtime``): ``triggered``
(``engine_start``, ``crm_answer``, ``engine_complete``, ``retry_unanswered``). All speak the
lab's wire format (``wire``) and keep state in ``storage``. None of them builds a Kafka or
S3 client: they take typed messages and stores, and return the messages to produce.
"""
