"""One log format for every process: a JSON object per line (or text, for people).

Each line has the time, level, process role, logger and message; a line about a
workflow adds ``workflowId`` and ``runId`` (see ``functions/log_context.py``). Secret
values from the configuration are blanked in every line, whatever logged them, and so is
anything of a named token's form (``bt_`` and its random part) or of a JWT's (``eyJ``
and two dots), which no configuration names.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Sequence
from datetime import UTC, datetime

from functions import log_context
from functions.access import blanked
from functions.context import iso_millis
from runtime.config import LogSettings


class _Redacting(logging.Formatter):
    def __init__(self, secrets: Sequence[str], fmt: str | None = None) -> None:
        super().__init__(fmt)
        self._secrets = [secret for secret in secrets if secret]

    def redact(self, line: str) -> str:
        return blanked(line, self._secrets)

    def format(self, record: logging.LogRecord) -> str:
        return self.redact(super().format(record))


class JsonFormatter(_Redacting):
    def __init__(self, role: str, secrets: Sequence[str] = ()) -> None:
        super().__init__(secrets)
        self._role = role

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "time": iso_millis(datetime.fromtimestamp(record.created, UTC)),
            "level": record.levelname,
            "process": self._role,
            "logger": record.name,
            # Blanked before JSON escapes it too: a token after a line break (``\n``)
            # follows a letter there, and a secret JSON escapes is no longer itself.
            "message": self.redact(record.getMessage()),
            **log_context.current(),
        }
        if record.exc_info:
            line["error"] = self.redact(self.formatException(record.exc_info))
        return self.redact(json.dumps(line, ensure_ascii=False, default=str))


class TextFormatter(_Redacting):
    def __init__(self, role: str, secrets: Sequence[str] = ()) -> None:
        super().__init__(secrets, f"%(asctime)s %(levelname)-7s [{role}] %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        about = " ".join(f"{k}={v}" for k, v in log_context.current().items() if v)
        line = super().format(record)
        return f"{line} [{about}]" if about else line


def configure_logging(settings: LogSettings, role: str, for_people: bool = False) -> None:
    """``for_people``: text whatever LOG_FORMAT says (the dev tools a person watches)."""
    text = for_people or settings.log_format == "text"
    formatter = (TextFormatter if text else JsonFormatter)(role, settings.secrets())
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(settings.log_level)
    for noisy in ("botocore", "boto3", "urllib3", "s3transfer"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
