"""The tuning constants that are not settings: each a number someone chose, with why.

What an operator would change is a setting (``function.py``: ``RETRY_INTERVAL_S``,
``SCHEDULE_CHECK_S``, ``STORAGE_RETRY_S``...); these are the runtime's and the CLI's own
rhythms, kept in one place so that they are found, and changed, together.
"""

from __future__ import annotations

# runtime all (runtime/supervisor.py): a function that died is started again after this
# long, so that one that cannot start (a bad setting, no broker) does not spin and flood
# the log; it is short against a crashed worker's rebalance (KAFKA_SESSION_TIMEOUT_S).
RESTART_DELAY_S = 2.0
# How long the supervisor's functions get, after SIGTERM, to finish and commit what they
# took before they are killed: a batch's S3 writes and a commit, with PUBLISH_TIMEOUT_S to
# spare.
STOP_GRACE_S = 30.0
# How often a supervised function checks its supervisor is still its parent
# (runtime/lifeline.py), where the kernel's parent-death signal did not reach it.
LIFELINE_WATCH_S = 0.5

# S3 unavailable (runtime/kafka/invoker.py): the first wait before a write is tried again,
# doubled each time up to the last, within STORAGE_RETRY_S. A blip costs half a second; an
# outage is asked about every 10 s, not hammered.
STORAGE_RETRY_FIRST_S = 0.5
STORAGE_RETRY_MOST_S = 10.0

# The S3 client (runtime/services.py): botocore's own retries of a request (3 attempts, its
# "standard" mode, on throttling and 5xx), a connection refused within 5 s (the server is
# down: STORAGE_RETRY_S takes over), and an answer within 30 s (a listing of 1,000 keys on
# a loaded server takes about a second).
S3_ATTEMPTS = 3
S3_CONNECT_TIMEOUT_S = 5.0
S3_READ_TIMEOUT_S = 30.0

# billing run --all-customers (cli/runs.py): runs posted at once. Each POST waits for
# Kafka's acknowledgement of up to 10,000 workflows; three overlap those waits, more take
# the CPU the functions need to bill the first runs.
RUNS_POSTED_AT_ONCE = 3
# --wait (cli/progress.py): a run's counts are read once a second (one listing a 1,000
# customers of the run), and a run that shows no progress this long is worth a warning.
FOLLOW_POLL_S = 1.0
STALL_WARNING_S = 60.0
