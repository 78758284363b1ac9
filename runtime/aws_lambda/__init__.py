"""The same functions on AWS Lambda: adapters from Lambda's events to the handlers.

``handlers.py`` names one entry point per function (``runtime.aws_lambda.handlers.
engine_start`` ...), as ``infra/aws/template.yaml`` deploys them. Each adapter turns the
event into what the local runtime would have built and goes through the same code: the
Kafka adapter through ``Invoker`` (typing, dead letters, CloudEvents, metrics, logs), the
HTTP adapter through ``HttpFunction`` (routes, auth, refusals), a schedule through its
timer's tick (``runtime/timers.py``), as the runtime ticks it.
"""
