"""The wire format the lab's services share, at the bottom of ``functions``: the typed
messages on Kafka (``messages``), the ids in them (``identifiers``), the billing period a
workflow's payload carries and which the ids and the bill's identity need
(``billing_period``; ``dates``: ISO dates as patterns), and JSON from outside read strictly
(``json_values``). It imports nothing of the other packages of ``functions``.
"""
