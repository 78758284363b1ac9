"""Runs: the coordinator's HTTP API (``coordinator``) and what it stands on. Starting a run,
whole or not at all (``starter``), a run's workflows, status and cancel (``status``), the
listing of runs (``listing``), the body of ``POST /`` (``request``) and what is answered
about runs (``answers``); a run's failures retried (``retries``), the ticks of
``BILLING_SCHEDULE`` (``scheduled_billing``; ``schedule``: which tick is due) and a billing
period's books (``period_books``).
"""
