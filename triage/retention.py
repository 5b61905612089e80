"""Retention: removing personal data once it is no longer needed.

``triage purge --older-than DAYS`` deletes the raw messages and the personal
data (names, addresses, subjects, articles, draft texts, free-text reasons) of
cases closed more than DAYS ago, and of messages on no case recorded more than
DAYS ago. What remains is anonymous: categories, dates, stages and deadlines,
so the counts in reports and digests stay true. Each run is logged as an event
without personal data.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from triage import store
from triage.store import Case, Draft, Event, Message, RawMessage, Session, Store, utcnow

log = logging.getLogger(__name__)
PURGED = "[purged]"


@dataclass
class PurgeResult:
    cases: int
    messages: int
    dry_run: bool

    def __str__(self) -> str:
        verb = "would purge" if self.dry_run else "purged"
        return f"{verb} personal data of {self.cases} closed case(s) and {self.messages} message(s)"


def purge(db: Store, older_than_days: int, actor: str, dry_run: bool = False) -> PurgeResult:
    """Purge what the retention period no longer allows us to keep (see module doc)."""
    cutoff = utcnow() - timedelta(days=older_than_days)
    with db.transaction() as s:
        cases = s.scalars(store.select(Case).where(Case.closed_at.is_not(None), Case.closed_at < cutoff,
                                                   Case.anonymised.is_(False))).all()
        case_ids = [c.id for c in cases]
        messages = _messages(s, case_ids, cutoff)
        result = PurgeResult(len(cases), len(messages), dry_run)
        if dry_run:
            return result
        for case in cases:
            _anonymise_case(s, case)
        for m in messages:
            _anonymise_message(s, m)
        store.add_event(s, "purged", f"retention: older than {older_than_days} days", actor=actor,
                        new=f"{len(cases)} case(s), {len(messages)} message(s)")
    log.info("%s", result)
    return result


def _messages(s: Session, case_ids: list[int], cutoff: datetime) -> list[Message]:
    """The messages of the purged cases, and messages on no case older than the cut-off."""
    on_cases = list(s.scalars(store.select(Message).where(Message.case_id.in_(case_ids)))) if case_ids else []
    loose = s.scalars(store.select(Message).where(
        Message.case_id.is_(None), Message.recorded_at < cutoff, Message.from_addr != PURGED,
        Message.state.in_(("done", "quarantined")))).all()
    return [*on_cases, *loose]


def _anonymise_case(s: Session, case: Case) -> None:
    case.complainant_name, case.complainant_email = PURGED, PURGED
    case.article, case.subject, case.anonymised = "", PURGED, True
    _scrub_events(s, store.select(Event).where(Event.case_id == case.id))


def _anonymise_message(s: Session, m: Message) -> None:
    raw = s.get(RawMessage, m.id)
    if raw is not None:
        s.delete(raw)
    m.subject, m.from_addr, m.from_name = PURGED, PURGED, PURGED
    m.message_id = None
    m.review_reason = m.match_evidence = m.error = None
    for d in s.scalars(store.select(Draft).where(Draft.message_pk == m.id)):
        d.raw, d.to_addr, d.subject = b"", PURGED, PURGED
    _scrub_events(s, store.select(Event).where(Event.message_pk == m.id))


def _scrub_events(s: Session, query: Any) -> None:
    for e in s.scalars(query):
        e.reason = PURGED if e.reason else e.reason
        if e.kind not in ("stage", "deadline", "classified", "corrected"):
            e.old = e.new = None
