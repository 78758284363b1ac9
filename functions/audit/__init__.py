"""The audit trail's operation, ``GET /audit`` (``api.py``). What a record holds, and the
store that keeps it, are storage's (``functions/storage/audit_log.py``, its S3 form
``s3_audit.py``); the runtime writes a record around each state-changing request
(``runtime/auditing.py``)."""
