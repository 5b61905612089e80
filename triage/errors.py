"""The one exception tree of triage.

    TriageError                 anything triage itself raises on purpose
    ├── ConfigError             config.toml or a secret is missing or invalid
    ├── MailboxError            the IMAP conversation failed (login, network, folder)
    │   └── AuthError           the server refused our credentials or token
    ├── StoreError              the database is unreachable or refused a write
    ├── ParseError              a message could not be turned into an Email
    ├── ModelError              a model file is missing, tampered or incompatible
    ├── CaseError               a case command names something that does not exist
    └── DeliveryError           SMTP delivery (digest) failed

Third-party errors are translated into these at the module that owns the
library (mailbox.py for imapclient, store for SQLAlchemy, message.py for
mail-parser). The CLI prints ``str(error)`` as one line and exits non-zero;
tracebacks appear only with ``--debug``.
"""

from __future__ import annotations


class TriageError(Exception):
    """Base of every error triage raises on purpose."""

    exit_code = 1


class ConfigError(TriageError):
    """The configuration (or a secret it points to) is missing or invalid."""

    exit_code = 2


class MailboxError(TriageError):
    """The IMAP server could not be reached or refused an operation."""


class AuthError(MailboxError):
    """Login or token refresh failed."""


class StoreError(TriageError):
    """The database could not be reached or refused a write."""


class ParseError(TriageError):
    """Bytes could not be parsed into an Email."""


class ModelError(TriageError):
    """A classifier model file is missing, tampered with or incompatible."""


class CaseError(TriageError):
    """A case, message or stage named by a person does not exist or is not allowed."""


class DeliveryError(TriageError):
    """Sending mail by SMTP failed."""
