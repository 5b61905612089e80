"""Read-only views for the CLI: cases, one case, figures and deadlines, as plain dicts."""

from __future__ import annotations

from datetime import date
from typing import Any

from triage import store
from triage.errors import CaseError
from triage.store import Case, Message, Session


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def _next_deadline(case: Case) -> str | None:
    open_ = [d for d in case.deadlines if d.status == "open"]
    return min(open_, key=lambda d: d.due).due.isoformat() if open_ else None


def case_rows(s: Session, open_only: bool = False) -> list[dict[str, Any]]:
    counts = store.count_by(s, Message.case_id)
    out = []
    for c in store.all_cases(s):
        if open_only and not c.is_open:
            continue
        out.append({
            "reference": c.reference, "stage": c.stage,
            "publication": c.publication.name if c.publication else None,
            "complainant_name": c.complainant_name, "complainant_email": c.complainant_email,
            "article": c.article or None, "opened_at": _iso(c.opened_at),
            "closed_at": _iso(c.closed_at), "messages": counts.get(c.id, 0),
            "next_deadline": _next_deadline(c),
            "merged_into": c.merged_into_id, "related_to": c.related_to_id,
        })
    return out


def case_detail(s: Session, reference: str) -> dict[str, Any]:
    case = store.case_detail(s, reference)
    if case is None:
        raise CaseError(f"no case {reference}")
    return {
        "reference": case.reference, "stage": case.stage,
        "publication": case.publication.name if case.publication else None,
        "complainant_name": case.complainant_name, "complainant_email": case.complainant_email,
        "article": case.article or None, "subject": case.subject,
        "opened_at": _iso(case.opened_at), "closed_at": _iso(case.closed_at),
        "referred_at": _iso(case.referred_at), "decision_at": _iso(case.decision_at),
        "decision_kind": case.decision_kind,
        "messages": [_message(m) for m in case.messages],
        "deadlines": [{"kind": d.kind, "party": d.party, "due": d.due.isoformat(), "status": d.status}
                      for d in case.deadlines],
        "events": [{"at": _iso(e.at), "kind": e.kind, "actor": e.actor, "reason": e.reason,
                    "old": e.old, "new": e.new, "message": e.message_pk}
                   for e in store.case_events(s, case.id)],
    }


def _message(m: Message) -> dict[str, Any]:
    return {
        "id": m.id, "message_id": m.message_id, "from": m.from_addr, "subject": m.subject,
        "recorded_at": _iso(m.recorded_at), "category": m.category,
        "confidence": round(m.confidence, 4) if m.confidence is not None else None,
        "needs_review": m.needs_review, "review_reason": m.review_reason,
        "evidence": m.match_evidence, "folder": m.filed_folder, "state": m.state,
        "draft": ({"message_id": m.draft.message_id, "to": m.draft.to_addr,
                   "subject": m.draft.subject, "state": m.draft.state}
                  if m.draft is not None else None),
    }


def format_case(d: dict[str, Any]) -> str:
    lines = [
        f"Case {d['reference']}  stage: {d['stage']}",
        f"  complainant: {d['complainant_name']} <{d['complainant_email']}>",
        f"  publication: {d['publication'] or '(unknown)'}",
        f"  opened: {d['opened_at']}" + (f"  closed: {d['closed_at']}" if d["closed_at"] else ""),
    ]
    if d["article"]:
        lines.append(f"  article: {d['article']}")
    if d["decision_at"]:
        lines.append(f"  decision ({d['decision_kind']}): {d['decision_at']}")
    lines.append("Messages:")
    for m in d["messages"]:
        review = "  NEEDS REVIEW" if m["needs_review"] else ""
        conf = f" {m['confidence']:.2f}" if m["confidence"] is not None else ""
        lines.append(f"  #{m['id']} {m['recorded_at'][:16]} {m['from']}  {m['category']}{conf}{review}")
        lines.append(f"      subject: {m['subject']}")
        if m["evidence"]:
            lines.append(f"      matched by: {m['evidence']}")
        if m["draft"]:
            lines.append(f"      draft: {m['draft']['subject']} → {m['draft']['to']} ({m['draft']['state']})")
    if d["deadlines"]:
        lines.append("Deadlines:")
        lines += [f"  {x['due']}  {x['kind']} ({x['party']})  {x['status']}" for x in d["deadlines"]]
    lines.append("Events:")
    lines += [f"  {e['at'][:19]} {e['kind']:<18} {e['actor']:<10} {e['reason']}"
              + (f" [{e['old'] or ''} → {e['new'] or ''}]" if e["old"] or e["new"] else "")
              for e in d["events"]]
    return "\n".join(lines)


def stats(s: Session) -> dict[str, Any]:
    by_category = store.count_by(s, Message.category, Message.category.is_not(None))
    return {
        "messages": store.count(s, Message),
        "by_category": {k: v for k, v in sorted(by_category.items())},
        "needs_review": store.count(s, Message, Message.needs_review.is_(True)),
        "parse_failures": store.count(s, Message, Message.parse_error.is_not(None)),
        "quarantined": store.count(s, Message, Message.state == "quarantined"),
        "pending": store.count(s, Message, Message.state.in_(("received", "processed", "drafted"))),
        "cases": store.count(s, Case),
        "open_cases": store.count(s, Case, Case.closed_at.is_(None)),
        "drafts": store.count(s, store.Draft, store.Draft.state == "appended"),
        "corrections": store.count(s, store.Correction),
    }


def deadline_rows(s: Session, today: date, days: int) -> list[dict[str, Any]]:
    from datetime import timedelta

    rows = []
    for d in store.open_deadlines(s, until=today + timedelta(days=days)):
        rows.append({"reference": d.case.reference, "kind": d.kind, "party": d.party,
                     "due": d.due.isoformat(), "days_left": (d.due - today).days,
                     "overdue": d.due < today, "stage": d.case.stage})
    return rows
