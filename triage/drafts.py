"""Rendering reply drafts: template → a well-formed reply MIME message.

Templates are ``templates/drafts/<category>.txt.j2``, rendered in Jinja2's
sandbox (admins edit them; a template must not be able to reach Python
internals). Nothing from the incoming message can add headers or recipients:
every header value is reduced to one line without control characters, the
recipient is only ever the sender or their Reply-To, and never the team's own
address or a configured never-reply address.
"""

from __future__ import annotations

import fnmatch
import hashlib
import re
from dataclasses import dataclass
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime
from pathlib import Path
from typing import Any

from jinja2 import FileSystemLoader, StrictUndefined, TemplateError, select_autoescape
from jinja2.sandbox import SandboxedEnvironment

from triage.config import TeamConfig
from triage.errors import ConfigError
from triage.message import Email
from triage.text import one_line

# A plain addr-spec (RFC 5322 dot-atom local part, a dotted domain): anything
# else (quotes, comments, encoded words, several addresses) gets no draft.
_ADDR_SPEC = re.compile(r"[a-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[a-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
                        r"@[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+")
DRAFTED = frozenset({"new_complaint", "publication_response", "review_request",
                     "complainant_followup", "out_of_remit"})


@dataclass(frozen=True)
class DraftPlan:
    to_addr: str
    subject: str
    message_id: str
    template: str
    raw: bytes


@dataclass(frozen=True)
class NoDraft:
    reason: str


def environment(templates_dir: Path) -> SandboxedEnvironment:
    """The sandboxed Jinja2 environment for admin-editable templates
    (autoescaping on for .html templates)."""
    return SandboxedEnvironment(
        loader=FileSystemLoader(str(templates_dir)),
        autoescape=select_autoescape(["html", "htm", "html.j2"], default_for_string=False),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def recipient(email: Email, team: TeamConfig) -> str | NoDraft:
    """Where a reply to ``email`` may go: its Reply-To, else its sender."""
    addr = (email.reply_to[0] if email.reply_to else email.from_addr).strip().lower()
    if not _ADDR_SPEC.fullmatch(addr):
        return NoDraft("no usable sender or Reply-To address")
    if addr == team.address.lower():
        return NoDraft("the sender is the team's own address")
    for pattern in team.never_reply:
        if fnmatch.fnmatch(addr, pattern):
            return NoDraft(f"{addr} matches never_reply pattern {pattern!r}")
    return addr


def reply_subject(subject: str, reference: str | None) -> str:
    base = one_line(subject, 180)
    while base.lower().startswith(("re:", "aw:", "fw:", "fwd:")):
        base = base.split(":", 1)[1].strip()
    tag = f"[Ref {reference}]"
    if reference and reference not in base:
        base = f"{base} {tag}".strip()
    return f"Re: {base}" if base else (f"Re: {tag}" if reference else "Re: your message")


def draft_message_id(reference: str | None, record_id: int, sha256: str, category: str,
                     team: TeamConfig) -> str:
    """Our draft's Message-ID: encodes the case so that replies thread back even
    when the subject is edited; derived from the message and the reply's kind,
    so planning the same draft twice gives the same ID."""
    token = hashlib.sha256(f"{record_id}:{sha256}:{category}".encode()).hexdigest()[:12]
    domain = team.address.rpartition("@")[2]
    return f"<triage.{reference or 'nocase'}.m{record_id}.{token}@{domain}>"


def render(env: SandboxedEnvironment, category: str, context: dict[str, Any]) -> str:
    name = f"drafts/{category}.txt.j2"
    try:
        return env.get_template(name).render(**context)
    except TemplateError as exc:
        raise ConfigError(f"template {name}: {exc}") from exc


def build(email: Email, *, category: str, reference: str | None, team: TeamConfig,
          env: SandboxedEnvironment, context: dict[str, Any], record_id: int,
          now: datetime) -> DraftPlan | NoDraft:
    """The reply to ``email`` from template ``category``, or why there is none."""
    if category not in DRAFTED:
        return NoDraft(f"no reply is drafted for {category}")
    to = recipient(email, team)
    if isinstance(to, NoDraft):
        return to
    body = render(env, category, {**context, "team": team, "reference": reference,
                                  "sender_name": one_line(email.from_name, 80),
                                  "subject": one_line(email.subject, 180)})
    msg = EmailMessage(policy=SMTP)
    # Address objects, not strings: nothing is parsed again from sender-controlled text.
    msg["From"] = Address(display_name=one_line(team.name, 80), addr_spec=team.address)
    msg["To"] = Address(display_name="" if email.reply_to else one_line(email.from_name, 80),
                        addr_spec=to)
    msg["Subject"] = reply_subject(email.subject, reference)
    msg["Date"] = format_datetime(now)
    mid = draft_message_id(reference, record_id, email.sha256, category, team)
    msg["Message-ID"] = mid
    if email.message_id:
        msg["In-Reply-To"] = email.message_id
        refs = [*email.references[-10:], email.message_id]
        msg["References"] = " ".join(dict.fromkeys(refs))
    msg["X-Triage-Case"] = reference or "none"
    msg.set_content(body, charset="utf-8")
    return DraftPlan(to, str(msg["Subject"]), mid, f"drafts/{category}.txt.j2", msg.as_bytes())
