"""functions-framework's entry point: ``functions-framework --target coordinator`` (or ``crm``).

The targets live in runtime/http.py, which binds each HTTP function to its clients.
"""

from runtime.http import coordinator, crm

__all__ = ["coordinator", "crm"]
