"""The audit trail: one record of every state-changing request, who asked and what came of
it (``entries.py``), and its operation, ``GET /audit`` (``api.py``). The runtime writes it
around each such request (``runtime/auditing.py``); its S3 form is
``functions/storage/s3_audit.py``."""
