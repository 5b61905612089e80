"""Bytes → an immutable :class:`Email`, via mail-parser.

This is the only module that imports mail-parser. :func:`parse` never raises
for bad input: when the structure cannot be parsed (or exceeds the configured
limits) it falls back to the headers alone and says why in
``Email.parse_error``, so the pipeline can still record and route the message.
"""

from __future__ import annotations

import base64
import email
import email.header
import email.utils
import hashlib
import logging
import re
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from email.message import Message
from typing import Any

import mailparser
from mailparser.exceptions import MailParserRecursionError

from triage.config import LimitsConfig
from triage.text import html_to_text, split_quoted, strip_controls

log = logging.getLogger(__name__)
# mail-parser logs part metadata (file names) at debug level; keep it quiet.
logging.getLogger("mailparser").setLevel(logging.ERROR)

_CONTENT_TYPE_LINE = re.compile(rb"^content-type\s*:", re.I | re.M)
_MSGID = re.compile(r"<[^<>\s\x00-\x1f\x7f]{1,250}>")
_HEADER_VALUE_CHARS = 16_384  # decoding encoded words is quadratic: never decode more than this


@dataclass(frozen=True)
class Attachment:
    name: str
    content_type: str
    size: int
    sha256: str


@dataclass(frozen=True)
class Email:
    """One parsed message: what every later station reads."""

    sha256: str
    size: int
    message_id: str | None
    subject: str
    from_name: str
    from_addr: str
    reply_to: tuple[str, ...]
    to: tuple[str, ...]
    cc: tuple[str, ...]
    date: datetime | None
    in_reply_to: tuple[str, ...]
    references: tuple[str, ...]
    text: str
    new_text: str
    quoted_text: str
    attachments: tuple[Attachment, ...]
    headers: dict[str, str] = field(repr=False)
    content_type: str = "text/plain"
    report_type: str = ""
    forwarded: tuple[str, ...] = ()
    defects: tuple[str, ...] = ()
    parse_error: str | None = None

    @property
    def from_domain(self) -> str:
        return self.from_addr.rpartition("@")[2].lower()

    @property
    def thread_ids(self) -> tuple[str, ...]:
        """Message-IDs this message replies to, nearest first."""
        seen: dict[str, None] = {}
        for mid in (*self.in_reply_to, *reversed(self.references)):
            seen.setdefault(mid, None)
        return tuple(seen)

    @property
    def is_reply(self) -> bool:
        return bool(self.in_reply_to or self.references) or bool(
            re.match(r"^\s*(re|aw|sv|antw|odp|rif|r)\s*:", self.subject, re.I)
        )


def sha256_of(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()


def parse(raw: bytes, limits: LimitsConfig) -> Email:
    """Parse ``raw`` into an Email. Never raises for bad input (see module doc)."""
    digest = sha256_of(raw)
    problem = _over_limits(raw, limits)
    if problem is None:
        try:
            return _parse_full(raw, digest, limits)
        except (Exception, RecursionError) as exc:
            problem = f"{type(exc).__name__}: {str(exc)[:200]}"
    log.info("parse fallback to headers only: %s", problem)
    return _parse_headers_only(raw, digest, problem)


def _over_limits(raw: bytes, limits: LimitsConfig) -> str | None:
    head = header_block(raw)
    if len(head) > limits.max_header_bytes:
        return (f"header block is {len(head)} bytes, over the limit of {limits.max_header_bytes}; "
                "headers read in part, body not analysed")
    if len(raw) > limits.max_message_bytes:
        return f"message is {len(raw)} bytes, over the limit of {limits.max_message_bytes}; body not analysed"
    parts = len(_CONTENT_TYPE_LINE.findall(raw))
    if parts > limits.max_parts:
        return f"message has {parts} MIME parts, over the limit of {limits.max_parts}; body not analysed"
    return None


def _parse_full(raw: bytes, digest: str, limits: LimitsConfig) -> Email:
    try:
        mp = mailparser.parse_from_bytes(raw)
    except MailParserRecursionError:
        raise
    except Exception as exc:
        why = f"mail-parser failed ({type(exc).__name__}); read with the standard library"
        return _parse_stdlib(raw, digest, limits, why)
    msg: Message = mp.message
    text, new, quoted, body = _texts(msg, limits)
    sender = _sender(mp.from_, msg)
    return Email(
        sha256=digest,
        size=len(raw),
        message_id=_first_msgid(_header(msg, "message-id")),
        subject=_clean(str(mp.subject or "")),
        from_name=_clean(sender[0]),
        from_addr=_addr(sender[1]),
        reply_to=tuple(_addr(a) for _, a in mp.reply_to if a),
        to=tuple(_addr(a) for _, a in mp.to if a),
        cc=tuple(_addr(a) for _, a in (mp.cc or []) if a),
        date=_date(mp.date),
        in_reply_to=tuple(_MSGID.findall(_header(msg, "in-reply-to")))[:5],
        references=tuple(_MSGID.findall(_header(msg, "references")))[-50:],
        text=text,
        new_text=new,
        quoted_text=quoted,
        attachments=tuple(_attachment(a) for a in mp.attachments),
        headers=_header_map(msg),
        content_type=msg.get_content_type(),
        report_type=str(msg.get_param("report-type", "") or "").lower(),
        forwarded=tuple(body.forwarded_subjects),
        defects=tuple(sorted(mp.defects_categories)),
    )


def _sender(parsed: list[tuple[str, str]], msg: Message) -> tuple[str, str]:
    """(name, address) of the sender; when mail-parser cannot read a hostile From
    header, the raw header is read without decoding its encoded words."""
    if parsed and _addr(parsed[0][1]):
        # mail-parser can leave an encoded word undecoded; decode it here so that
        # what it hides (CR/LF, controls) is seen and cleaned now, not in a reply.
        return decode_header_value(str(parsed[0][0] or "")), parsed[0][1]
    raw = str(msg.get("from", "") or "")[:_HEADER_VALUE_CHARS]
    angle = re.findall(r"<([^<>\s]+@[^<>\s]+)>", raw)
    if angle:
        return decode_header_value(raw[: raw.rfind("<")].strip().strip('"')), angle[-1]
    name, addr = email.utils.parseaddr(raw)
    return decode_header_value(name), addr


def _texts(msg: Message, limits: LimitsConfig) -> tuple[str, str, str, _Body]:
    body = _Body(limits.max_text_chars)
    body.walk(msg, quoted=False)
    text = body.text()
    new, quoted = split_quoted(text)
    if body.forwarded_text:
        quoted = (quoted + "\n\n" + "\n\n".join(body.forwarded_text)).strip()
    return text, new, quoted, body


def _parse_stdlib(raw: bytes, digest: str, limits: LimitsConfig, why: str) -> Email:
    msg = email.message_from_bytes(raw)
    hdrs = _header_map(msg)
    text, new, quoted, body = _texts(msg, limits)
    base = _parse_headers_only(raw, digest, None)
    return replace(
        base,
        to=_addresses(hdrs.get("to", "")), cc=_addresses(hdrs.get("cc", "")),
        text=text, new_text=new, quoted_text=quoted,
        attachments=tuple(_stdlib_attachments(msg)),
        report_type=str(msg.get_param("report-type", "") or "").lower(),
        forwarded=tuple(body.forwarded_subjects),
        defects=(why,),
    )


def _addresses(value: str) -> tuple[str, ...]:
    return tuple(a for a in (_addr(x) for _, x in email.utils.getaddresses([value])) if a)


def _stdlib_attachments(msg: Message) -> list[Attachment]:
    out = []
    for part in msg.walk():
        name = part.get_filename()
        if part.is_multipart() or not (name or part.get_content_disposition() == "attachment"):
            continue
        try:
            data = part.get_payload(decode=True) or b""
        except Exception:
            data = b""
        out.append(Attachment(_clean(decode_header_value(name or ""))[:255],
                              part.get_content_type(), len(data), hashlib.sha256(data).hexdigest()))
    return out


def header_block(raw: bytes) -> bytes:
    """The bytes before the first empty line (the whole message when there is none)."""
    ends = [i for i in (raw.find(b"\r\n\r\n"), raw.find(b"\n\n")) if i >= 0]
    return raw[: min(ends)] if ends else raw


def _parse_headers_only(raw: bytes, digest: str, problem: str | None) -> Email:
    head = header_block(raw)[:1_000_000]
    try:
        msg = email.message_from_bytes(head + b"\n\n")
        hdrs = _header_map(msg)
    except Exception:
        msg, hdrs = Message(), {}
    name, addr = email.utils.parseaddr(hdrs.get("from", ""))
    reply = _addr(email.utils.parseaddr(hdrs.get("reply-to", ""))[1])
    return Email(
        sha256=digest, size=len(raw),
        message_id=_first_msgid(hdrs.get("message-id", "")),
        subject=hdrs.get("subject", ""),
        from_name=_clean(name), from_addr=_addr(addr),
        reply_to=(_addr(reply),) if reply else (), to=(), cc=(),
        date=_date_header(hdrs.get("date", "")),
        in_reply_to=tuple(_MSGID.findall(hdrs.get("in-reply-to", ""))),
        references=tuple(_MSGID.findall(hdrs.get("references", "")))[-50:],
        text="", new_text="", quoted_text="", attachments=(), headers=hdrs,
        content_type=(hdrs.get("content-type", "text/plain").split(";")[0].strip().lower()),
        parse_error=problem,
    )


class _Body:
    """Collects body text from a MIME tree: the first text alternative of each
    part, HTML turned into text when it is the only one, and forwarded
    message/rfc822 parts kept apart as quoted material."""

    def __init__(self, max_chars: int) -> None:
        self.chunks: list[str] = []
        self.forwarded_text: list[str] = []
        self.forwarded_subjects: list[str] = []
        self.max_chars = max_chars
        self.size = 0

    def walk(self, part: Message, quoted: bool, depth: int = 0) -> None:
        if depth > 40 or self.size > self.max_chars:
            return
        ctype = part.get_content_type()
        if part.get_content_disposition() == "attachment" and ctype != "message/rfc822":
            return
        if ctype == "message/rfc822":
            self._forwarded(part, depth)
        elif ctype == "multipart/alternative":
            self._alternative(part, quoted, depth)
        elif part.is_multipart():
            for sub in part.get_payload() or []:
                if isinstance(sub, Message):
                    self.walk(sub, quoted, depth + 1)
        elif ctype in ("text/plain", "text/html") and not part.get_filename():
            self._add(decode_text(part), ctype, quoted)

    def _alternative(self, part: Message, quoted: bool, depth: int) -> None:
        subs = [s for s in part.get_payload() or [] if isinstance(s, Message)]
        plain = [s for s in subs if s.get_content_type() == "text/plain"]
        chosen = plain[0] if plain and decode_text(plain[0]).strip() else None
        if chosen is None and subs:
            html = [s for s in subs if s.get_content_type() == "text/html"]
            chosen = html[0] if html else subs[-1]
        if chosen is not None:
            self.walk(chosen, quoted, depth + 1)

    def _forwarded(self, part: Message, depth: int) -> None:
        inner = part.get_payload()
        inner = inner[0] if isinstance(inner, list) and inner else inner
        if not isinstance(inner, Message):
            return
        subject = _clean(_header(inner, "subject"))
        self.forwarded_subjects.append(subject)
        sub = _Body(self.max_chars - self.size)
        sub.walk(inner, quoted=True, depth=depth + 1)
        head = f"From: {_clean(_header(inner, 'from'))}\nSubject: {subject}"
        self.forwarded_text.append(head + "\n\n" + sub.text())
        self.size += len(self.forwarded_text[-1])

    def _add(self, text: str, ctype: str, quoted: bool) -> None:
        if ctype == "text/html":
            text = html_to_text(text)
        text = strip_controls(text)[: max(0, self.max_chars - self.size)]
        self.size += len(text)
        if quoted:
            text = "\n".join("> " + ln for ln in text.split("\n"))
        self.chunks.append(text)

    def text(self) -> str:
        return "\n\n".join(c for c in self.chunks if c.strip()).strip()


def decode_text(part: Message) -> str:
    """A text part's content: declared charset, else UTF-8, else cp1252, else
    UTF-8 with replacement characters — never an exception."""
    try:
        payload = part.get_payload(decode=True)
    except Exception:
        payload = None
    if not isinstance(payload, bytes):
        raw = part.get_payload()
        return raw if isinstance(raw, str) else ""
    declared = part.get_content_charset() or "utf-8"
    for charset in (declared, "utf-8", "cp1252"):
        try:
            return payload.decode(charset)
        except (LookupError, UnicodeError):
            continue
    return payload.decode("utf-8", "replace")


def _header(msg: Message, name: str) -> str:
    try:
        value = msg.get(name)
        if value is None:
            return ""
        return decode_header_value(str(value)[:_HEADER_VALUE_CHARS])
    except Exception:
        return ""


def decode_header_value(value: str) -> str:
    """RFC 2047 encoded words decoded; undecodable parts kept as they are."""
    try:
        parts = email.header.decode_header(value)
    except Exception:
        return value
    out = []
    for chunk, charset in parts:
        if isinstance(chunk, bytes):
            out.append(_decode_bytes(chunk, charset))
        else:
            out.append(chunk)
    return "".join(out)


def _decode_bytes(data: bytes, charset: str | None) -> str:
    for cs in (charset or "utf-8", "utf-8", "cp1252"):
        try:
            return data.decode(cs)
        except (LookupError, UnicodeError):
            continue
    return data.decode("utf-8", "replace")


def _header_map(msg: Message) -> dict[str, str]:
    """Lower-cased header names to their first value (decoded, at most 4 KB)."""
    out: dict[str, str] = {}
    for name in msg.keys():  # noqa: SIM118 - Message is not a dict
        key = str(name).lower()
        if key not in out and len(out) < 200:
            out[key] = _clean(_header(msg, key))[:4096]
    return out


def _clean(value: Any) -> str:
    return strip_controls(str(value or "")).replace("\n", " ").replace("\r", " ").strip()


def _addr(value: str) -> str:
    addr = _clean(value).strip("<>").lower()
    return addr if len(addr) <= 320 and "@" in addr and " " not in addr else ""


def _first_msgid(value: str) -> str | None:
    found = _MSGID.findall(value or "")
    if found:
        return found[0]
    value = _clean(value)
    return f"<{value}>" if value and len(value) < 250 and " " not in value else None


def _date(value: Any) -> datetime | None:
    if not isinstance(value, datetime):
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _date_header(value: str) -> datetime | None:
    try:
        return _date(email.utils.parsedate_to_datetime(value))
    except (TypeError, ValueError, IndexError):
        return None


def _attachment(att: dict[str, Any]) -> Attachment:
    payload = att.get("payload") or ""
    if att.get("binary"):
        try:
            data = base64.b64decode(payload)
        except ValueError:
            data = str(payload).encode("utf-8", "replace")
    else:
        data = str(payload).encode("utf-8", "replace")
    return Attachment(
        name=_clean(att.get("filename") or "")[:255],
        content_type=_clean(att.get("mail_content_type") or "application/octet-stream")[:100],
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
    )
