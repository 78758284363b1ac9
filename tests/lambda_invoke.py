"""Invokes one Lambda entry point in this fresh process, as Lambda's runtime would on a cold
start: the event as JSON on stdin, the result as JSON on stdout, exit 1 if it raised.

    python -m tests.lambda_invoke engine_start < event.json
"""

from __future__ import annotations

import json
import sys
import traceback

from runtime.aws_lambda import handlers


def main() -> int:
    handler = getattr(handlers, sys.argv[1])
    try:
        result = handler(json.load(sys.stdin), None)
    except Exception:
        traceback.print_exc()
        return 1
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
