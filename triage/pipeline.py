"""The conveyor: every message from the inbox to a recorded, drafted, filed result.

    IMAP inbox ──fetch──▶ raw bytes committed (nothing can be lost from here on)
       ▶ parse        bytes → Email
       ▶ automated?   header rules          ┐ classify_batch
       ▶ classify     Email → Verdict       ┘
       ▶ match        Email → case evidence
       ▶ record       case, message, events in one transaction
       ▶ draft        template → reply MIME → APPEND to Drafts
       ▶ file         move/flag in the mailbox so staff see the outcome

A message's ``state`` says how far it got: ``received`` (raw committed) →
``processed`` (results committed, draft planned) → ``drafted`` (draft in
Drafts, or none due) → ``done`` (filed); ``failed`` messages go to quarantine.
Every step is idempotent, so after a crash the next cycle finishes the job
without a second case, record or draft.
"""

from __future__ import annotations

import logging
import re
import time
import traceback
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, TypeVar

from jinja2.sandbox import SandboxedEnvironment

from triage import cases, drafts, store
from triage.cases import CaseContext, Match
from triage.classifier import Classifier, Verdict
from triage.config import Config
from triage.errors import MailboxError, StoreError
from triage.lexicon import non_members_named
from triage.mailbox import Fetched, Mailbox
from triage.message import Email, header_block, parse, sha256_of
from triage.publications import PublicationIndex
from triage.store import Case, Message, Session, Store, utcnow

log = logging.getLogger(__name__)
T = TypeVar("T")
_HEADER_MSGID = re.compile(rb"^message-id:[ \t]*(?:\r?\n[ \t]+)?(<[^<>\s\x00-\x1f\x7f]{1,250}>)",
                           re.I | re.M)


class Timings:
    """Seconds spent in each station, for ``triage poll --timings`` and the benchmark."""

    STATIONS = ("fetch", "parse", "classify", "match", "record", "draft", "file")

    def __init__(self) -> None:
        self.seconds: dict[str, float] = dict.fromkeys(self.STATIONS, 0.0)
        self._inner: list[float] = []

    @contextmanager
    def station(self, name: str) -> Iterator[None]:
        """Count the time inside as ``name``'s, less any station nested inside it."""
        started = time.perf_counter()
        self._inner.append(0.0)
        try:
            yield
        finally:
            elapsed = time.perf_counter() - started
            self.seconds[name] += elapsed - self._inner.pop()
            if self._inner:
                self._inner[-1] += elapsed

    def timed(self, name: str, items: Iterable[T]) -> Iterator[T]:
        """``items`` as they come, with the time spent waiting for each counted."""
        it = iter(items)
        while True:
            with self.station(name):
                item = next(it, None)
            if item is None:
                return
            yield item


@dataclass
class Context:
    """Everything the stations need, built once per process."""

    config: Config
    store: Store
    classifier: Classifier
    pubs: PublicationIndex
    templates: SandboxedEnvironment
    should_stop: Callable[[], bool] = lambda: False
    timings: Timings = field(default_factory=Timings)

    @property
    def cases(self) -> CaseContext:
        return CaseContext(self.config, self.pubs)

    @property
    def inbox_key(self) -> str:
        imap = self.config.imap
        return f"{imap.username}@{imap.host}/{imap.inbox}"


@dataclass
class Outcome:
    """One line of a poll summary."""

    uid: int
    message_id: str
    category: str | None = None
    confidence: float | None = None
    needs_review: bool = False
    reference: str | None = None
    draft: str = ""
    folder: str = ""
    error: str | None = None

    def line(self) -> str:
        what = self.category or "unclassified"
        conf = f" {self.confidence:.2f}" if self.confidence is not None else ""
        review = " NEEDS REVIEW" if self.needs_review else ""
        case = f" case {self.reference}" if self.reference else ""
        err = f" ERROR {self.error}" if self.error else ""
        return (f"uid {self.uid} {self.message_id or '(no Message-ID)'}: {what}{conf}{review}{case}"
                f"{'; ' + self.draft if self.draft else ''}"
                f"{'; filed in ' + self.folder if self.folder else ''}{err}")


@dataclass
class CycleReport:
    outcomes: list[Outcome] = field(default_factory=list)
    recorded: int = 0
    duplicates: int = 0
    corrections: int = 0

    def totals(self) -> str:
        done = [o for o in self.outcomes if not o.error]
        review = sum(1 for o in done if o.needs_review)
        drafted = sum(1 for o in done if o.draft.startswith("draft"))
        failed = sum(1 for o in self.outcomes if o.error)
        return (f"{self.recorded} new message(s) recorded, {len(done)} processed, {review} need review, "
                f"{drafted} draft(s), {failed} failed, {self.duplicates} duplicate(s) skipped, "
                f"{self.corrections} correction(s)")


# ---------------------------------------------------------------- the cycle


def run_cycle(ctx: Context, box: Mailbox, report: CycleReport | None = None) -> CycleReport:
    """One full cycle: finish earlier work, then take every new message through."""
    report = report or CycleReport()
    check_folders(ctx, box)
    inbox = box.select(ctx.config.imap.inbox)
    _advance(ctx, box, _pending(ctx), {}, inbox.uidvalidity, report)
    with ctx.store.transaction() as s:
        last_uid = _checkpoint(s, ctx, inbox.uidvalidity)
    uids = box.uids_after(last_uid)
    log.info("%d new message(s) in %s", len(uids), ctx.config.imap.inbox)
    batches = box.fetch(uids, ctx.config.poll.batch_size, ctx.config.poll.batch_bytes)
    for batch in ctx.timings.timed("fetch", batches):
        if ctx.should_stop():
            break
        with ctx.timings.station("record"):
            records, raw = _receive(ctx, batch, inbox.uidvalidity, report)
        _advance(ctx, box, records, raw, inbox.uidvalidity, report)
    if not ctx.should_stop():
        from triage.corrections import scan_folders, scan_sent  # they build on this module

        report.corrections += scan_folders(ctx, box)
        scan_sent(ctx, box)
    _note_inbox_size(ctx, box)
    return report


def _note_inbox_size(ctx: Context, box: Mailbox) -> None:
    """What is left in the inbox after the cycle, for the digest's reconciliation."""
    left = box.status(ctx.config.imap.inbox).exists
    with ctx.store.transaction() as s:
        store.mailbox(s, ctx.inbox_key).inbox_count = left


def check_folders(ctx: Context, box: Mailbox) -> None:
    """Refuse to start a cycle when a folder the service writes to is missing, so
    that nothing is half-done (recorded and classified, but never drafted or filed)."""
    from triage.app import service_folders

    missing = [f for f in service_folders(ctx.config) if not box.folder_exists(f)]
    if missing:
        raise MailboxError(f"mailbox folder(s) missing: {', '.join(missing)}; run 'triage init' "
                           "to create them (or correct [imap]/[folders] in the configuration)")


def _checkpoint(s: Session, ctx: Context, uidvalidity: int) -> int:
    """The last UID recorded, reset when the server's UIDVALIDITY changed."""
    row = store.mailbox(s, ctx.inbox_key)
    if row.uidvalidity is not None and row.uidvalidity != uidvalidity:
        log.warning("UIDVALIDITY of %s changed from %s to %s: rescanning the folder "
                    "(messages already recorded are recognised by Message-ID and content)",
                    ctx.config.imap.inbox, row.uidvalidity, uidvalidity)
        store.add_event(s, "uidvalidity_changed", f"{ctx.config.imap.inbox}",
                        old=str(row.uidvalidity), new=str(uidvalidity))
        row.last_uid = 0
    row.uidvalidity = uidvalidity
    row.last_poll_at = utcnow()
    return int(row.last_uid)


def _pending(ctx: Context) -> list[int]:
    with ctx.store.transaction() as s:
        return [m.id for m in store.pending_messages(s, 100_000)]


# ---------------------------------------------------------------- fetch + record raw


def _receive(ctx: Context, batch: Sequence[Fetched], uidvalidity: int,
             report: CycleReport) -> tuple[list[int], dict[int, bytes]]:
    """Commit the raw bytes of a fetched batch (and the checkpoint) in one transaction."""
    folder = ctx.config.imap.inbox
    ids: list[int] = []
    raw: dict[int, bytes] = {}
    with ctx.store.transaction() as s:
        for f in batch:
            rec = _record_raw(s, folder, uidvalidity, f, report)
            if rec is not None:
                ids.append(rec.id)
                raw[rec.id] = f.raw
        row = store.mailbox(s, ctx.inbox_key)
        row.last_uid = max(int(row.last_uid), *(f.uid for f in batch))
    return ids, raw


def _record_raw(s: Session, folder: str, uidvalidity: int, f: Fetched,
                report: CycleReport) -> Message | None:
    """The message's record, created with its raw bytes unless already recorded."""
    if store.message_at(s, folder, uidvalidity, f.uid) is not None:
        return None
    m = _HEADER_MSGID.search(header_block(f.raw)[:200_000])
    message_id = m.group(1).decode("ascii", "replace") if m else None
    sha = sha256_of(f.raw)
    same = store.same_message(s, sha)
    if same is not None and same.folder == folder and same.uidvalidity != uidvalidity:
        return _relocate(s, same, folder, uidvalidity, f.uid, report)
    rec = Message(folder=folder, uidvalidity=uidvalidity, uid=f.uid, message_id=message_id,
                  sha256=sha, size=len(f.raw), internal_date=f.internal_date, state="received",
                  recorded_at=utcnow(), duplicate_of_id=same.id if same else None)
    s.add(rec)
    s.flush()
    s.add(store.RawMessage(message_pk=rec.id, data=store.compress(f.raw)))
    if same is not None:
        store.add_event(s, "duplicate", f"identical copy of message #{same.id} delivered again",
                        message=rec, new=str(same.id))
        report.duplicates += 1
    report.recorded += 1
    return rec


def _relocate(s: Session, rec: Message, folder: str, uidvalidity: int, uid: int,
              report: CycleReport) -> Message | None:
    """The same bytes seen again after the folder's UIDVALIDITY changed (folder
    recreated): remember where the message is now, and file it again if it had
    been filed, but never process it twice."""
    old = f"{rec.folder}/{rec.uidvalidity}/{rec.uid}"
    rec.folder, rec.uidvalidity, rec.uid = folder, uidvalidity, uid
    if rec.state == "done":
        rec.state = "drafted"
    store.add_event(s, "seen_again", "same Message-ID and content as an earlier message",
                    message=rec, old=old, new=f"{folder}/{uidvalidity}/{uid}")
    report.duplicates += 1
    return rec if rec.state != "done" else None


# ---------------------------------------------------------------- stations


def _advance(ctx: Context, box: Mailbox, ids: Sequence[int], raw: dict[int, bytes],
             uidvalidity: int, report: CycleReport) -> None:
    """Take recorded messages on from wherever they stopped, in bounded batches."""
    size = ctx.config.poll.batch_size
    for start in range(0, len(ids), size):
        if ctx.should_stop():
            return
        chunk = ids[start:start + size]
        outcomes = _process_batch(ctx, chunk, raw)
        with ctx.timings.station("draft"):
            _append_drafts(ctx, box, chunk)
        with ctx.timings.station("file"):
            _file(ctx, box, chunk, uidvalidity, outcomes)
        report.outcomes += outcomes.values()


def _process_batch(ctx: Context, ids: Sequence[int], raw: dict[int, bytes]) -> dict[int, Outcome]:
    """Parse, classify, match and record every ``received`` message of the batch."""
    outcomes: dict[int, Outcome] = {}
    t = ctx.timings
    with t.station("record"), ctx.store.transaction() as s:
        records = list(store.messages_by_ids(s, ids))
        todo = [m for m in records if m.state == "received"]
        with t.station("parse"):
            emails = {m.id: parse(raw.get(m.id) or store.raw_bytes(s, m.id), ctx.config.limits)
                      for m in todo}
        with t.station("classify"):
            verdicts = _classify_batch(ctx, [emails[m.id] for m in todo])
        for rec, verdict in zip(todo, verdicts, strict=True):
            outcomes[rec.id] = _process_one(ctx, s, rec, emails[rec.id], verdict)
        for rec in records:
            outcomes.setdefault(rec.id, _outcome(rec))
    return outcomes


def _classify_batch(ctx: Context, emails: Sequence[Email]) -> list[Verdict | Exception]:
    try:
        return list(ctx.classifier.classify_many(emails))
    except Exception:
        out: list[Verdict | Exception] = []
        for e in emails:
            try:
                out.append(ctx.classifier.classify(e))
            except Exception as exc:
                out.append(exc)
        return out


def _process_one(ctx: Context, s: Session, rec: Message, email: Email,
                 verdict: Verdict | Exception) -> Outcome:
    """The stations for one message inside a savepoint: a failure rolls back this
    message only, records the error, and quarantines it after ``max_attempts``."""
    try:
        with s.begin_nested():
            if isinstance(verdict, Exception):
                raise verdict
            received = rec.internal_date or rec.recorded_at
            with ctx.timings.station("match"):
                m = cases.match(s, email, verdict, ctx.cases, received)
                verdict, m = _in_case_context(ctx, email, verdict, m)
            case = record(s, ctx, rec, email, verdict, m)
            with ctx.timings.station("draft"):
                plan_draft(s, ctx, rec, email, verdict, case)
    except StoreError:  # the database itself failed: the cycle stops, not this message
        raise
    except Exception as exc:
        return _failed(s, ctx, rec, email, exc)
    log.info("%s classified %s %.2f%s case=%s", rec.message_id, rec.category, rec.confidence or 0,
             " needs-review" if rec.needs_review else "", case.reference if case else "-")
    return _outcome(rec)


def _in_case_context(ctx: Context, email: Email, verdict: Verdict, m: Match) -> tuple[Verdict, Match]:
    """Reconsider the category once the case is known: a case's complainant
    or publication writing on it sends only certain kinds of message."""
    if m.case is None:
        return verdict, m
    role = cases.sender_role(m.case, email, ctx.pubs)
    if role is None:
        return verdict, m
    why = f"the sender is the {role} on case {m.case.reference}"
    # The match stands: the sender's role on the case is exactly what the doubt checks ask.
    return ctx.classifier.restrict(email, verdict, cases.ROLE_CATEGORIES[role], why), m


def _failed(s: Session, ctx: Context, rec: Message, email: Email, exc: BaseException) -> Outcome:
    rec.attempts += 1
    where = traceback.extract_tb(exc.__traceback__)[-1] if exc.__traceback__ else None
    rec.error = f"{type(exc).__name__}: {str(exc)[:300]}" + (
        f" (at {where.filename.rsplit('/', 1)[-1]}:{where.lineno})" if where else "")
    rec.subject, rec.from_addr = email.subject[:500], email.from_addr
    if rec.attempts >= ctx.config.poll.max_attempts:
        rec.state = "failed"
    store.add_event(s, "processing_failed", rec.error, message=rec, new=rec.state)
    log.error("%s processing failed (attempt %d): %s", rec.message_id, rec.attempts, rec.error)
    return _outcome(rec)


def record(s: Session, ctx: Context, rec: Message, email: Email, verdict: Verdict,
           m: Match) -> Case | None:
    """Write what the stations learned onto the message and its case."""
    _describe(rec, email)
    reasons = [verdict.reason] if verdict.reason else []
    needs_review = verdict.needs_review
    case = m.case
    if m.doubt:
        needs_review = True
        reasons.append(m.doubt)
    if case is None and not needs_review and verdict.category == "new_complaint":
        remit = _remit_doubt(ctx, email)
        if remit:
            needs_review = True
            reasons.append(remit)
    if case is None and not needs_review and verdict.category in ("review_request",
                                                                    "publication_response",
                                                                    "complainant_followup"):
        needs_review = True
        reasons.append(f"{verdict.category} but no case could be matched")
    rec.category, rec.confidence, rec.classified_by = verdict.category, verdict.confidence, verdict.by
    rec.needs_review, rec.review_reason = needs_review, "; ".join(reasons) or None
    rec.processed_at, rec.state = utcnow(), "processed"
    store.add_event(s, "classified", verdict.reason or verdict.by, message=rec,
                    new=f"{verdict.category} {verdict.confidence:.2f}")
    if case is None and verdict.category == "new_complaint" and not needs_review:
        case = cases.open_case(s, email, ctx.cases, rec)
    if case is not None:
        rec.case_id, rec.case = case.id, case
        store.add_event(s, "matched", m.describe() or "opened for this message", case=case,
                        message=rec, new=case.reference)
    elif m.evidence or m.doubt:
        store.add_event(s, "match_doubt", m.describe(), message=rec)
    if m.related is not None and case is not None and case.related_to_id is None:
        case.related_to_id = m.related.id
        store.add_event(s, "related", f"same article as {m.related.reference}", case=case,
                        new=m.related.reference)
    rec.match_evidence = m.describe() or None
    return case


def _remit_doubt(ctx: Context, email: Email) -> str | None:
    """A 'new complaint' that names no member publication but does name a
    broadcaster or non-member title may be out of remit: a person decides."""
    text = f"{email.subject}\n{email.new_text}"
    if ctx.pubs.mentioned(text):
        return None
    others = non_members_named(text)
    if not others:
        return None
    return f"names no member publication but mentions {', '.join(others[:3])}: remit to be checked"


def _describe(rec: Message, email: Email) -> None:
    rec.subject = email.subject[:500]
    rec.from_addr = email.from_addr[:320]
    rec.from_name = email.from_name[:200]
    rec.sent_at = email.date
    rec.parse_error = email.parse_error
    rec.message_id = rec.message_id or email.message_id


def plan_draft(s: Session, ctx: Context, rec: Message, email: Email, verdict: Verdict,
               case: Case | None, *, force: bool = False) -> None:
    """Move the case on and plan its reply draft (appended after the commit)."""
    received = rec.internal_date or rec.recorded_at or utcnow()
    timing = None
    if case is not None and (not rec.needs_review or force):
        timing = cases.apply(s, case, email, verdict, rec, ctx.cases, received)
    extra = _template_context(ctx, case, timing)
    if rec.needs_review and not force:
        store.add_event(s, "no_draft", "needs review: a person decides", message=rec)
        return
    if rec.duplicate_of_id is not None and not force:
        store.add_event(s, "no_draft", f"identical copy of message #{rec.duplicate_of_id}",
                        message=rec)
        return
    plan = drafts.build(email, category=verdict.category,
                        reference=case.reference if case else None, team=ctx.config.team,
                        env=ctx.templates, context=extra, record_id=rec.id, now=utcnow())
    if isinstance(plan, drafts.DraftPlan):
        plan = _rate_limited(s, ctx, plan)
    if isinstance(plan, drafts.NoDraft):
        store.add_event(s, "no_draft", plan.reason, message=rec, case=case)
        return
    s.add(store.Draft(message_pk=rec.id, case_id=case.id if case else None,
                      message_id=plan.message_id, to_addr=plan.to_addr, subject=plan.subject[:500],
                      template=plan.template, raw=plan.raw, state="pending", created_at=utcnow()))
    timing = extra.get("timing")
    if case is not None and timing is not None and timing.in_time is False:
        # The reply asks the complainant why the request is late.
        cases.add_deadline(s, case, "correspondence", "complainant", utcnow(),
                           ctx.config.deadlines.correspondence_days)


def _rate_limited(s: Session, ctx: Context, plan: drafts.DraftPlan) -> drafts.DraftPlan | drafts.NoDraft:
    limit = ctx.config.team.max_drafts_per_address_per_day
    if store.drafts_to_since(s, plan.to_addr, utcnow() - timedelta(days=1)) >= limit:
        return drafts.NoDraft(f"{plan.to_addr} already has {limit} drafts in the last 24 hours "
                              "(mail-loop guard)")
    return plan


_STAGE_TEXT = {"assessment": "being assessed", "referred": "with the publication",
               "investigation": "under investigation", "decision": "decided",
               "review": "under review", "closed": "closed", "not_pursued": "closed"}


def _template_context(ctx: Context, case: Case | None,
                      timing: cases.ReviewTiming | None) -> dict[str, Any]:
    """What every reply template may use (the case's part is empty without a case)."""
    return {"publication": case.publication.name if case and case.publication else None,
            "deadlines": ctx.config.deadlines, "timing": timing,
            "stage_text": _STAGE_TEXT.get(case.stage, case.stage) if case else None,
            "withdrawn": case is not None and case.stage == "closed"}


def _outcome(rec: Message) -> Outcome:
    draft = ""
    if rec.draft is not None:
        draft = f"draft to {rec.draft.to_addr}"
    return Outcome(uid=rec.uid, message_id=rec.message_id or "", category=rec.category,
                   confidence=rec.confidence, needs_review=rec.needs_review,
                   reference=rec.case.reference if rec.case else None, draft=draft,
                   folder=rec.filed_folder or "", error=rec.error if rec.state == "failed" else None)


# ---------------------------------------------------------------- draft → Drafts


def _append_drafts(ctx: Context, box: Mailbox, ids: Sequence[int]) -> None:
    """APPEND the batch's planned drafts, then mark processed messages drafted."""
    append_drafts(ctx, box, ids)
    with ctx.store.transaction() as s:
        for rec in store.messages_by_ids(s, ids):
            if rec.state == "processed":
                rec.state = "drafted"


def append_drafts(ctx: Context, box: Mailbox, ids: Sequence[int]) -> int:
    """APPEND every unappended draft of these messages to Drafts exactly once.

    A draft is marked ``appending`` (committed) before the APPEND and
    ``appended`` after it; one found still ``appending`` was interrupted, so
    Drafts is searched for its Message-ID before appending it again.
    """
    folder = ctx.config.imap.drafts
    with ctx.store.transaction() as s:
        pending = [d for m in store.messages_by_ids(s, ids) for d in m.drafts
                   if d.state in ("pending", "appending")]
        for d in pending:
            if d.state == "appending" and box.search_message_id(folder, d.message_id):
                d.state, d.appended_at = "appended", utcnow()
        todo = [d for d in pending if d.state != "appended"]
        for d in todo:
            d.state = "appending"
    if todo:
        box.append_many(folder, [d.raw for d in todo], ["\\Draft"])
    if pending:
        box.select(ctx.config.imap.inbox)
    with ctx.store.transaction() as s:
        for rec in store.messages_by_ids(s, ids):
            for d in rec.drafts:
                if d.state == "appending":
                    d.state, d.appended_at = "appended", utcnow()
                    store.add_event(s, "drafted", f"reply to {d.to_addr} in {folder}", message=rec,
                                    case=rec.case)
    return len(todo)


# ---------------------------------------------------------------- file


def target_folder(ctx: Context, rec: Message) -> str:
    f = ctx.config.folders
    if rec.state == "failed":
        return f.quarantine
    if rec.needs_review:
        return f.needs_review
    return f.categories[rec.category or "automated"]


def keywords_for(rec: Message) -> list[str]:
    words = ["Triage_" + "".join(p.capitalize() for p in (rec.category or "failed").split("_"))]
    if rec.needs_review:
        words.append("Triage_NeedsReview")
    if rec.case is not None:
        words.append(f"Case_{rec.case.reference}")
    return words


def _file(ctx: Context, box: Mailbox, ids: Sequence[int], uidvalidity: int,
          outcomes: dict[int, Outcome]) -> None:
    """Move (and/or tag) each finished message where staff will see its outcome."""
    mode = ctx.config.folders.mode
    with ctx.store.transaction() as s:
        ready = [m for m in store.messages_by_ids(s, ids) if m.state in ("drafted", "failed")
                 and m.folder == ctx.config.imap.inbox and m.uidvalidity == uidvalidity]
        plan: dict[str, list[Message]] = defaultdict(list)
        for rec in ready:
            plan[target_folder(ctx, rec)].append(rec)
    for folder, recs in plan.items():
        uids = [r.uid for r in recs]
        if mode in ("keywords", "both"):
            for rec in recs:
                box.add_keywords([rec.uid], keywords_for(rec))
        flagged = [r.uid for r in recs if r.category == "unacceptable_behaviour" or r.state == "failed"]
        if flagged:
            box.add_keywords(flagged, ["\\Flagged"])
        if mode in ("move", "both"):
            box.move(uids, folder)
    with ctx.store.transaction() as s:
        for rec in store.messages_by_ids(s, [r.id for r in ready]):
            folder = target_folder(ctx, rec)
            quarantined = rec.state == "failed"
            rec.state, rec.filed_at = "done", utcnow()
            rec.filed_folder = folder if mode != "keywords" else ctx.config.imap.inbox
            if quarantined:
                rec.state = "quarantined"
            store.add_event(s, "filed", folder, message=rec)
            outcomes[rec.id] = _outcome(rec)
            if quarantined:
                outcomes[rec.id].error = rec.error

