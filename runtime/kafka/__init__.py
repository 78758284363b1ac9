"""The runtime's Kafka side: everything that consumes or produces, and nothing else does.

- ``records``: a consumed record and a record on its way out
- ``invoker``: one function called on one record, or on a batch of them at once
- ``acking_producer``: sends records and waits for Kafka's acknowledgement (the only one)
- ``clients``: the librdkafka settings and quix-streams' application
- ``batch_loop``: consume, invoke, produce, commit: the local runtime of a trigger
- ``publisher``: all of a batch or none, for the HTTP functions and the timers

``records`` and ``invoker`` import no Kafka client, so the unit tier and Lambda's HTTP
functions load without one.
"""
