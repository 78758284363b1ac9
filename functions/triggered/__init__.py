"""The behaviours Kafka and the timers trigger, each a plain function from a typed message
(or a tick) and the stores to the messages to produce: ``engine_start`` (a workflow to a
waiting job and its question), ``crm_answer`` (a question to its answer),
``engine_complete`` (an answer to the bill; ``bills``: its text), ``retry_unanswered`` (a
timer's sweep of overdue questions) and ``cancelled_jobs`` (how a cancelled run's job ends).
They know the wire format, the stores and the function context, never HTTP.
"""
