"""The supervisors' daily digest: gathering the figures, rendering, sending.

One email a day (HTML and plain text in one multipart/alternative message)
that says what came in, what is waiting, what is about to go wrong, how well
the classifier and the service are doing, and which records need a tidy-up.
A delivery record per day makes a second digest for the same day impossible,
even across restarts; a failed delivery is retried and reported, never lost.
Only subjects (one line, escaped) and names appear; never message bodies.
"""

from __future__ import annotations

import contextlib
import logging
import smtplib
import socket
import ssl
import time
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape

from triage import store
from triage.classifier import read_registry
from triage.config import CATEGORIES, Config, read_secret
from triage.errors import DeliveryError
from triage.store import Case, DigestRun, Draft, Event, Message, Session, Store, utcnow
from triage.text import one_line

log = logging.getLogger(__name__)
WAITING_CATEGORIES = ("unacceptable_behaviour", "review_request")


@dataclass
class Digest:
    html: str
    text: str
    subject: str
    data: dict[str, Any] = field(default_factory=dict)


def local_midnight(day: date) -> datetime:
    """The start of ``day`` in the server's local time zone."""
    return datetime(day.year, day.month, day.day).astimezone()


# ------------------------------------------------------------------ figures


def gather(cfg: Config, s: Session, day: date) -> dict[str, Any]:
    """Every figure of the digest for ``day`` (a local calendar day), as plain data."""
    start, end = local_midnight(day), local_midnight(day + timedelta(days=1))
    counts = _by_category(s, start, end)
    history = [_by_category(s, local_midnight(day - timedelta(days=k)),
                            local_midnight(day - timedelta(days=k - 1))) for k in range(1, 8)]
    avg = {c: sum(h.get(c, 0) for h in history) / 7 for c in CATEGORIES}
    return {
        "day": day, "generated": utcnow().astimezone(),
        "team": cfg.team.name,
        "volume": [{"category": c, "count": counts.get(c, 0), "average": round(avg[c], 1),
                    "change": counts.get(c, 0) - avg[c]} for c in CATEGORIES],
        "total": sum(counts.values()),
        "new_cases": _new_cases(s, start, end),
        "waiting": _waiting(cfg, s),
        "deadlines": _deadlines(s, day),
        "classifier": _classifier_health(cfg, s, start, end),
        "service": _service_health(cfg, s, start, end),
        "quality": _quality(cfg, s),
        "chart": _chart(s, day),
    }


def _arrived() -> Any:
    """When a message reached the inbox (its IMAP INTERNALDATE), else when it was recorded:
    mail that arrived while the service was down still counts for the day it came."""
    return store.func.coalesce(Message.internal_date, Message.recorded_at)


def _by_category(s: Session, start: datetime, end: datetime) -> dict[str, int]:
    return store.count_by(s, Message.category, _arrived() >= start, _arrived() < end,
                          Message.category.is_not(None))


def _new_cases(s: Session, start: datetime, end: datetime) -> list[dict[str, Any]]:
    rows = s.scalars(store.select(Case).where(Case.opened_at >= start, Case.opened_at < end)
                     .order_by(Case.id)).all()
    return [{"reference": c.reference, "complainant": c.complainant_name or c.complainant_email,
             "publication": c.publication.name if c.publication else None} for c in rows]


WAITING_SHOWN = 25


def _waiting(cfg: Config, s: Session) -> dict[str, Any]:
    """Messages a person has to act on (the oldest first), how many in each folder,
    and how to find them."""
    where = (Message.state.in_(("done", "processed", "drafted")),
             (Message.needs_review.is_(True)) | Message.category.in_(WAITING_CATEGORIES),
             Message.recorded_at >= utcnow() - timedelta(days=14))
    by_folder = store.count_by(s, Message.filed_folder, *where)
    q = store.select(Message).where(*where).order_by(Message.id).limit(WAITING_SHOWN)
    out = []
    for m in s.scalars(q):
        why = "needs review" if m.needs_review else {
            "unacceptable_behaviour": "flagged for a manager",
            "review_request": "review request"}.get(m.category or "", "")
        out.append({"why": why, "folder": m.filed_folder or cfg.imap.inbox,
                    "subject": one_line(m.subject or "(no subject)", 90), "sender": m.from_addr,
                    "reference": m.case.reference if m.case else None,
                    "received": m.recorded_at, "reason": one_line(m.review_reason or "", 140)})
    total = sum(by_folder.values())
    return {"items": out, "total": total, "more": total - len(out),
            "by_folder": {k or cfg.imap.inbox: v for k, v in sorted(by_folder.items(), key=str)}}


def _deadlines(s: Session, day: date) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {"overdue": [], "today": [], "soon": []}
    for d in store.open_deadlines(s, until=day + timedelta(days=4)):
        row = {"reference": d.case.reference, "kind": d.kind.replace("_", " "), "party": d.party,
               "due": d.due, "days": (d.due - day).days}
        key = "overdue" if d.due <= day else "today" if d.due == day + timedelta(days=1) else "soon"
        out[key].append(row)
    return out


def _classifier_health(cfg: Config, s: Session, start: datetime, end: datetime) -> dict[str, Any]:
    in_period = (_arrived() >= start, _arrived() < end, Message.category.is_not(None))
    total = store.count(s, Message, *in_period)
    review = store.count(s, Message, *in_period, Message.needs_review.is_(True))
    corrected = len(store.corrections_between(s, start, end))
    try:
        version = read_registry(cfg.classifier.model_dir).get("active")
    except Exception:
        version = None
    return {"classified": total, "needs_review": review,
            "auto_share": (total - review) / total if total else None,
            "corrections": corrected, "model": version or "unknown"}


def _service_health(cfg: Config, s: Session, start: datetime, end: datetime) -> dict[str, Any]:
    inbox_key = f"{cfg.imap.username}@{cfg.imap.host}/{cfg.imap.inbox}"
    row = s.scalar(store.select(store.Mailbox).where(store.Mailbox.name == inbox_key))
    waiting_in_inbox = store.count(s, Message, Message.folder == cfg.imap.inbox,
                                   Message.state.in_(("received", "processed", "drafted", "failed")))
    oldest = s.scalar(store.select(store.func.min(Message.recorded_at)).where(
        Message.state.in_(("received", "processed", "drafted"))))
    in_period = (_arrived() >= start, _arrived() < end)
    failures = s.scalars(store.select(Event).where(
        Event.kind.in_(("imap_error", "auth_failed", "token_refresh_failed", "digest_failed")),
        Event.at >= start - timedelta(days=1)).order_by(Event.id.desc()).limit(5)).all()
    return {
        "last_poll": row.last_poll_at if row else None,
        "inbox_count": row.inbox_count if row else None,
        "recorded_not_filed": waiting_in_inbox,
        "reconciled": row is not None and row.inbox_count is not None and row.inbox_count <= waiting_in_inbox,
        "recorded": store.count(s, Message, *in_period),
        "quarantined": store.count(s, Message, *in_period, Message.state == "quarantined"),
        "oversized": store.count(s, Message, *in_period, Message.parse_error.like("%over the limit%")),
        "automated": store.count(s, Message, *in_period, Message.category == "automated"),
        "duplicates": store.count(s, Message, *in_period, Message.duplicate_of_id.is_not(None)),
        "failures": [{"at": e.at, "kind": e.kind, "reason": one_line(e.reason, 160)} for e in failures],
        "behind": (utcnow() - oldest) if oldest else timedelta(0),
    }


def _quality(cfg: Config, s: Session) -> dict[str, Any]:
    stale = utcnow() - timedelta(days=cfg.digest.stale_draft_days)
    unsent = s.scalars(store.select(Draft).where(Draft.state == "appended", Draft.sent_seen_at.is_(None),
                                                 Draft.created_at < stale).order_by(Draft.id)).all()
    no_pub = s.scalars(store.select(Case).where(Case.publication_id.is_(None), Case.closed_at.is_(None),
                                                Case.merged_into_id.is_(None))).all()
    orphans = store.count(s, Message, Message.case_id.is_(None), Message.needs_review.is_(False),
                          Message.category.in_(("complainant_followup", "publication_response",
                                                "review_request")))
    return {
        "cases_without_publication": [c.reference for c in no_pub],
        "messages_without_case": orphans,
        "unsent_drafts": [{"reference": d.subject.rpartition("[Ref ")[2].rstrip("]") if "[Ref " in d.subject
                           else None, "to": d.to_addr, "created": d.created_at,
                           "subject": one_line(d.subject, 90)} for d in unsent[:20]],
        "unsent_total": len(unsent),
        "parse_failures": store.count(s, Message, Message.parse_error.is_not(None)),
    }


def _chart(s: Session, day: date) -> dict[str, Any]:
    days = [day - timedelta(days=k) for k in range(13, -1, -1)]
    rows = []
    for d in days:
        counts = _by_category(s, local_midnight(d), local_midnight(d + timedelta(days=1)))
        rows.append({"day": d, "counts": [counts.get(c, 0) for c in CATEGORIES],
                     "total": sum(counts.values())})
    peak = max((r["total"] for r in rows), default=0) or 1
    return {"rows": rows, "peak": peak, "categories": list(CATEGORIES), "colours": COLOURS}


COLOURS = ("#9e9e9e", "#c62828", "#6a1b9a", "#1565c0", "#2e7d32", "#ef6c00", "#795548")


# ------------------------------------------------------------------ render


def build(cfg: Config, db: Store, day: date) -> Digest:
    with db.transaction() as s:
        data = gather(cfg, s, day)
    return render(cfg, data)


def render(cfg: Config, data: dict[str, Any]) -> Digest:
    # Autoescaping on for the HTML part: names and subjects come from senders.
    env = Environment(loader=FileSystemLoader(str(cfg.templates_dir)),
                      autoescape=select_autoescape(["html", "html.j2"]), trim_blocks=True,
                      lstrip_blocks=True)
    env.filters["label"] = lambda c: c.replace("_", " ")
    env.filters["signed"] = lambda x: f"{x:+.1f}"
    html = env.get_template("digest/digest.html.j2").render(**data, cfg=cfg)
    text = env.get_template("digest/digest.txt.j2").render(**data, cfg=cfg)
    attention = len(data["deadlines"]["overdue"]) + data["waiting"]["total"]
    subject = (f"Triage digest {data['day']:%a %d %b %Y}: {data['total']} in, "
               f"{len(data['new_cases'])} new case(s), {attention} need attention")
    return Digest(html, text, subject, data)


def as_email(cfg: Config, digest: Digest) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = cfg.digest.sender
    msg["To"] = ", ".join(cfg.digest.recipients)
    msg["Subject"] = digest.subject
    msg["Date"] = format_datetime(utcnow())
    msg["Message-ID"] = make_msgid(domain=cfg.digest.sender.rpartition("@")[2] or "triage.invalid")
    msg["Auto-Submitted"] = "auto-generated"  # RFC 3834: nobody should auto-reply to it
    msg.set_content(digest.text)
    msg.add_alternative(digest.html, subtype="html")
    return msg


# ------------------------------------------------------------------ send


def smtp_send(cfg: Config, msg: EmailMessage) -> None:
    """Deliver by SMTP (TLS verified by default); raises DeliveryError."""
    smtp = cfg.digest.smtp
    ctx = ssl.create_default_context(cafile=str(smtp.ca_file) if smtp.ca_file else None)
    try:
        if smtp.security == "tls":
            conn: smtplib.SMTP = smtplib.SMTP_SSL(smtp.host, smtp.port, timeout=smtp.timeout_seconds,
                                                  context=ctx)
        else:
            conn = smtplib.SMTP(smtp.host, smtp.port, timeout=smtp.timeout_seconds)
        with conn:
            if smtp.security == "starttls":
                conn.starttls(context=ctx)
            if smtp.username:
                conn.login(smtp.username, read_secret(smtp.password))
            refused = conn.send_message(msg)
            if refused:
                raise DeliveryError(f"SMTP refused recipients: {', '.join(refused)}")
    except (TimeoutError, smtplib.SMTPException, OSError, ssl.SSLError) as exc:
        raise DeliveryError(f"SMTP delivery to {smtp.host}:{smtp.port} failed: {exc}") from exc


def _claim(db: Store, day: date, force: bool) -> bool:
    """Take the delivery record of ``day``; False when it was sent (or may have been)."""
    owner = f"{socket.gethostname()}:{id(db)}"
    try:
        with db.transaction() as s:
            row = s.scalar(store.select(DigestRun).where(DigestRun.day == day))
            if row is None:
                s.add(DigestRun(day=day, state="sending", claimed_by=owner, attempts=0))
                return True
            if row.state == "sent" and not force:
                return False
            if row.state == "sending" and not force:
                # A process died mid-delivery: the digest may have gone out. Never risk two.
                log.warning("digest for %s: an earlier delivery was interrupted; not sending again", day)
                return False
            row.state, row.claimed_by = "sending", owner
            return True
    except store.IntegrityError:
        return False  # another instance claimed the day at the same moment


def deliver(cfg: Config, db: Store, day: date, *, force: bool = False,
            sleep: Any = time.sleep) -> str:
    """Send the digest of ``day`` once: retried ``digest.retries`` times, recorded."""
    if not _claim(db, day, force):
        return f"digest for {day} already sent; nothing done"
    msg = as_email(cfg, build(cfg, db, day))
    error = ""
    for attempt in range(1, cfg.digest.retries + 2):
        try:
            smtp_send(cfg, msg)
            _record(db, day, "sent", attempt, None)
            log.info("digest for %s sent to %d recipient(s)", day, len(cfg.digest.recipients))
            return f"digest for {day} sent to {', '.join(cfg.digest.recipients)}"
        except DeliveryError as exc:
            error = str(exc)
            log.warning("digest for %s: attempt %d failed: %s", day, attempt, error)
            if attempt <= cfg.digest.retries:
                sleep(min(60.0, 2.0 ** attempt))
    _record(db, day, "failed", cfg.digest.retries + 1, error)
    log.error("digest for %s not delivered: %s", day, error)
    raise DeliveryError(f"digest for {day} not delivered after {cfg.digest.retries + 1} attempts: {error}")


def _record(db: Store, day: date, state: str, attempts: int, error: str | None) -> None:
    with db.transaction() as s:
        row = s.scalars(store.select(DigestRun).where(DigestRun.day == day)).one()
        row.state, row.attempts, row.last_error = state, row.attempts + attempts, error
        if state == "sent":
            row.sent_at = utcnow()
        store.add_event(s, "digest_" + state, error or f"digest for {day}", new=str(day))


def send_now(cfg: Config, db: Store, day: date) -> str:
    """``triage digest --send``: a person asked, so send even if already sent."""
    return deliver(cfg, db, day, force=True)


def scheduled_send(cfg: Config, db: Store) -> None:
    """The daily job: yesterday's digest, unless already sent."""
    with contextlib.suppress(DeliveryError):  # recorded and logged; catch_up retries later
        deliver(cfg, db, date.today() - timedelta(days=1))


def catch_up(cfg: Config, db: Store, now: datetime | None = None) -> None:
    """After a restart past the send time, or after a failed delivery: send
    yesterday's digest if it has not gone out (and was not interrupted mid-send)."""
    now = now or datetime.now()
    if now.time() < cfg.digest.send_at:
        return
    day = now.date() - timedelta(days=1)
    with db.transaction() as s:
        row = s.scalar(store.select(DigestRun).where(DigestRun.day == day))
        gave_up = row is not None and row.attempts >= 3 * (cfg.digest.retries + 1)
        if row is not None and (row.state in ("sent", "sending") or gave_up):
            return
        if row is not None and row.state == "failed":
            row.state = "retry"
    scheduled_send(cfg, db)

