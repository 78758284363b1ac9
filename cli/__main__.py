"""billing: the command's entry point (``cli/parser.py``: its commands and their help)."""

from __future__ import annotations

import sys

from cli.api import Api
from cli.parser import parser
from functions.errors import BillingError
from runtime.config import ClientSettings


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return int(args.action(Api(ClientSettings.from_env()), args))
    except BillingError as exc:
        print(f"billing: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(
            "\nbilling: interrupted; the runs that went out go on (`billing runs show <run id>`),"
            " and a `billing run` stopped before all did is finished by the same command"
        )
        return 130


if __name__ == "__main__":
    sys.exit(main())
