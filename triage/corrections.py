"""Staff corrections: from the mailbox (moving a message between category
folders) and from the command line (link, stage, merge, category).

Every correction is an event naming who made it. A category correction is
also a labelled example for the next ``triage train``; each folder move is
recorded once (keyed by folder, UIDVALIDITY and UID), so a correction is never
lost and never counted twice.
"""

from __future__ import annotations

import email
import email.utils
import logging
import re
from datetime import datetime

from triage import cases, store
from triage.classifier import Verdict
from triage.errors import CaseError
from triage.mailbox import Mailbox
from triage.message import parse
from triage.pipeline import Context, append_drafts, plan_draft
from triage.store import Case, Correction, Message, Session, Store, utcnow

log = logging.getLogger(__name__)


def find_message(s: Session, ref: str) -> Message:
    """A message by its number (as shown by 'triage show') or its Message-ID."""
    if ref.isdigit():
        rec = s.get(Message, int(ref))
    else:
        found = store.messages_by_message_ids(s, [ref if ref.startswith("<") else f"<{ref}>"])
        rec = found[-1] if found else None
    if rec is None:
        raise CaseError(f"no message {ref}")
    return rec


def find_case(s: Session, reference: str) -> Case:
    from triage.references import find_references

    refs = find_references(f"ref {reference}")
    case = store.case_by_reference(s, refs[0].reference if refs else reference)
    if case is None:
        raise CaseError(f"no case {reference}")
    return case


# ------------------------------------------------------------------ command line


def link(ctx: Context, message_ref: str, reference: str, actor: str) -> str:
    with ctx.store.transaction() as s:
        rec, case = find_message(s, message_ref), find_case(s, reference)
        old = rec.case.reference if rec.case else None
        rec.case_id, rec.case = case.id, case
        rec.match_evidence = f"linked by {actor}"
        if rec.needs_review and rec.review_reason and "case" in rec.review_reason:
            rec.needs_review = False
        store.add_event(s, "linked", f"message #{rec.id} linked by hand", case=case, message=rec,
                        actor=actor, old=old, new=case.reference)
        return f"message #{rec.id} is now on case {case.reference}" + (f" (was {old})" if old else "")


def stage(ctx: Context, reference: str, new_stage: str, actor: str, *, at: datetime | None = None,
          decision: str | None = None) -> str:
    with ctx.store.transaction() as s:
        case = find_case(s, reference)
        old = case.stage
        cases.set_stage(s, case, new_stage, cause=f"set by {actor}", actor=actor, at=at,
                        decision=decision, ctx=ctx.cases)
        due = [f"{d.kind} due {d.due}" for d in case.deadlines if d.status == "open"]
        return f"case {case.reference}: {old} → {new_stage}" + (f" ({'; '.join(due)})" if due else "")


def merge(ctx: Context, source_ref: str, target_ref: str, actor: str) -> str:
    with ctx.store.transaction() as s:
        source, target = find_case(s, source_ref), find_case(s, target_ref)
        if source.complainant_email and target.complainant_email and \
                source.complainant_email != target.complainant_email:
            log.warning("merging cases of different complainants: %s into %s", source.reference,
                        target.reference)
        n = len(source.messages)
        cases.merge(s, source, target, actor, ctx.cases)
        return f"merged {source.reference} into {target.reference} ({n} message(s) moved)"


def recategorise(ctx: Context, message_ref: str, category: str, actor: str,
                 box: Mailbox | None = None) -> str:
    with ctx.store.transaction() as s:
        rec = find_message(s, message_ref)
        old = rec.category
        apply_correction(ctx, s, rec, category, source="command", actor=actor)
        return f"message #{rec.id}: {old} → {category}"


# ------------------------------------------------------------------ one correction


def apply_correction(ctx: Context, s: Session, rec: Message, category: str, *, source: str,
                     actor: str, folder_uid: str | None = None, folder: str | None = None) -> bool:
    """Record that a person says ``rec`` is ``category`` and follow it through:
    the case link that follows from it, and the reply a person would expect.
    Returns False when this folder move was already recorded."""
    if folder_uid is not None and store.correction_for(s, folder_uid) is not None:
        return False
    old, was_review = rec.category, rec.needs_review
    s.add(Correction(message_pk=rec.id, old_category=old, new_category=category, source=source,
                     actor=actor, folder_uid=folder_uid, at=utcnow()))
    rec.category, rec.needs_review, rec.confidence = category, False, 1.0
    rec.classified_by = f"person ({source})"
    rec.review_reason = f"corrected by {actor} from {old}{' (needs review)' if was_review else ''}"
    if folder:
        rec.filed_folder = folder
    store.add_event(s, "corrected", f"category corrected by {actor} via {source}", message=rec,
                    case=rec.case, actor=actor, old=old, new=category)
    _follow_through(ctx, s, rec, old, category, actor)
    return True


def _follow_through(ctx: Context, s: Session, rec: Message, old: str | None, new: str,
                    actor: str) -> None:
    email = parse(store.raw_bytes(s, rec.id), ctx.config.limits)
    verdict = Verdict(new, 1.0, False, f"person ({actor})")
    case = rec.case
    if case is not None and old == "new_complaint" and new != "new_complaint" and \
            [m.id for m in case.messages] == [rec.id]:
        cases.set_stage(s, case, "closed", cause=f"opened in error: message corrected to {new}",
                        actor=actor, message=rec, ctx=ctx.cases)
        rec.case_id, rec.case, case = None, None, None
    if case is None and new != "automated":
        m = cases.match(s, email, verdict, ctx.cases)
        if m.case is None and new == "new_complaint" and not m.doubt:
            m.case = cases.open_case(s, email, ctx.cases, rec)
        if m.case is not None:
            rec.case_id, rec.case, case = m.case.id, m.case, m.case
            rec.match_evidence = m.describe() or "opened after correction"
            store.add_event(s, "matched", rec.match_evidence, case=case, message=rec, actor=actor,
                            new=case.reference)
        elif m.doubt:
            rec.needs_review, rec.review_reason = True, m.doubt
    if not any(d.template == f"drafts/{new}.txt.j2" for d in rec.drafts):
        plan_draft(s, ctx, rec, email, verdict, case, force=True)


# ------------------------------------------------------------------ from the mailbox


def folder_key(ctx: Context, folder: str) -> str:
    imap = ctx.config.imap
    return f"{imap.username}@{imap.host}/{folder}"


def scan_folders(ctx: Context, box: Mailbox) -> int:
    """Record every message staff moved into a category folder since the last
    scan as a correction; returns how many were new."""
    if ctx.config.folders.mode == "keywords":
        return 0
    found = 0
    touched: list[int] = []
    for category, folder in ctx.config.folders.categories.items():
        if not box.folder_exists(folder):
            continue
        n, ids = _scan_one(ctx, box, category, folder)
        found += n
        touched += ids
    if touched:
        append_drafts(ctx, box, touched)
    box.select(ctx.config.imap.inbox)
    return found


def _new_uids(ctx: Context, box: Mailbox, folder: str, readonly: bool = False) -> tuple[int, list[int]]:
    """Select ``folder`` and return its UIDVALIDITY and the UIDs that arrived since
    the last scan (all of them after a UIDVALIDITY change)."""
    state = box.select(folder, readonly=readonly)
    with ctx.store.transaction() as s:
        row = store.mailbox(s, folder_key(ctx, folder))
        if row.uidvalidity != state.uidvalidity:
            row.uidvalidity, row.last_uid = state.uidvalidity, 0
        last = int(row.last_uid)
    return state.uidvalidity, box.uids_after(last)


def _scan_one(ctx: Context, box: Mailbox, category: str, folder: str) -> tuple[int, list[int]]:
    uidvalidity, uids = _new_uids(ctx, box, folder)
    if not uids:
        return 0, []
    ids = box.message_ids(uids)
    n, touched = 0, []
    with ctx.store.transaction() as s:
        for uid in uids:
            rec = _ours(s, ids.get(uid, ""))
            if rec is None or rec.state not in ("done", "quarantined"):
                continue  # not ours, or we have not finished with it yet
            key = f"{folder}/{uidvalidity}/{uid}"
            if rec.category == category and not rec.needs_review:
                rec.filed_folder, rec.filed_uidvalidity, rec.filed_uid = folder, uidvalidity, uid
                continue
            who = f"staff via folder ({ctx.config.imap.username})"
            if apply_correction(ctx, s, rec, category, source="folder", actor=who,
                                folder_uid=key, folder=folder):
                rec.filed_uidvalidity, rec.filed_uid = uidvalidity, uid
                n += 1
                touched.append(rec.id)
                log.info("%s corrected to %s by a folder move", rec.message_id, category)
        store.mailbox(s, folder_key(ctx, folder)).last_uid = max(uids)
    return n, touched


def scan_sent(ctx: Context, box: Mailbox) -> int:
    """Note which of our drafts staff have sent: a message in the Sent folder with
    the draft's Message-ID, or replying to the same message and addressed to the
    same person. Returns how many drafts were newly seen as sent."""
    folder = ctx.config.imap.sent
    if not box.folder_exists(folder):
        return 0
    _, uids = _new_uids(ctx, box, folder, readonly=True)
    heads = box.header_fields(uids, ("MESSAGE-ID", "IN-REPLY-TO", "REFERENCES", "TO")) if uids else {}
    box.select(ctx.config.imap.inbox)
    seen = 0
    with ctx.store.transaction() as s:
        for raw in heads.values():
            seen += _mark_sent(s, raw)
        if uids:
            store.mailbox(s, folder_key(ctx, folder)).last_uid = max(uids)
    return seen


def _mark_sent(s: Session, raw: bytes) -> int:
    head = email.message_from_bytes(raw)
    ids = re.findall(r"<[^<>\s]+>", " ".join(str(head.get(h, "")) for h in
                                             ("Message-ID", "In-Reply-To", "References")))
    recipients = {a.lower() for _, a in email.utils.getaddresses([str(head.get("To", ""))])}
    n = 0
    for draft in store.unsent_drafts_for(s, ids):
        if draft.message_id in ids or draft.to_addr in recipients:
            draft.sent_seen_at = utcnow()
            n += 1
    return n


def _ours(s: Session, message_id: str) -> Message | None:
    if not message_id:
        return None
    found = [m for m in store.messages_by_message_ids(s, [message_id])]
    return found[-1] if found else None


# ------------------------------------------------------------------ training


def training_examples(db: Store) -> list[tuple[bytes, str, str]]:
    """(raw bytes, corrected category, source) for each corrected message — the
    latest correction wins."""
    out = []
    with db.transaction() as s:
        latest = store.latest_corrections(s)
        for corr in latest:
            out.append((store.raw_bytes(s, corr.message_pk), corr.new_category,
                        f"correction:{corr.id}"))
    return out

