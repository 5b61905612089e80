"""Logging set-up for the CLI: one line per event, never message bodies.

Lines are ``time level logger message`` with newlines escaped, so that one
event is one line for log shippers. Tracebacks are printed only with
``--debug``; otherwise an exception is reduced to its type and message.
Modules log with ``log = logging.getLogger(__name__)`` and put the
Message-ID first; they never log bodies or attachment contents.
"""

from __future__ import annotations

import logging
import sys
import time


class OneLineFormatter(logging.Formatter):
    converter = time.gmtime

    def __init__(self, debug: bool) -> None:
        super().__init__("%(asctime)sZ %(levelname)s %(name)s %(message)s", "%Y-%m-%dT%H:%M:%S")
        self.debug = debug

    def format(self, record: logging.LogRecord) -> str:
        if record.exc_info and not self.debug:
            exc = record.exc_info[1]
            record.msg = f"{record.getMessage()} [{type(exc).__name__}: {exc}]"
            record.args = None
            record.exc_info = None
            record.exc_text = None
        text = super().format(record)
        return text if self.debug else text.replace("\r", "\\r").replace("\n", "\\n")


def configure(debug: bool = False, level: str | None = None) -> None:
    root = logging.getLogger()
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(OneLineFormatter(debug))
    root.handlers = [handler]
    root.setLevel(logging.DEBUG if debug else getattr(logging, level or "WARNING"))
    # These libraries log SQL parameters, IMAP traffic and part metadata at their
    # INFO/DEBUG levels: that is personal data, so they stay quiet even with --debug.
    for quiet in ("imapclient", "sqlalchemy", "alembic"):
        logging.getLogger(quiet).setLevel(logging.WARNING)
    logging.getLogger("mailparser").setLevel(logging.ERROR)
