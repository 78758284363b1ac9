"""functions-framework's entry point: ``functions-framework --target coordinator`` (or ``crm``).

The targets live in runtime/http.py, which binds each HTTP function to its clients; this
file, the process's entry point, is where it reads its environment.
"""

import flask
import functions_framework
from werkzeug.exceptions import HTTPException

from runtime.http import coordinator, crm, framework_error, start

# The process's configuration and logging, before it serves anything.
start()

# functions-framework loads this file inside its app: refusals made before a target
# runs (a path its router cannot take, say) answer in JSON too.
functions_framework.errorhandler(HTTPException)(framework_error)
# A doubled slash is a path like any other the target does not know (401 without a token,
# then 404), not one werkzeug redirects to its single-slash twin before auth is checked.
flask.current_app.url_map.merge_slashes = False

__all__ = ["coordinator", "crm"]
