"""Named tokens: the coordinator's operations that make, list and revoke them (``api``),
admin's only. What a token is and how it is kept: ``functions/access.py`` and
``functions/storage/s3_tokens.py``; how a request's token is checked: ``runtime/auth.py``.
"""
