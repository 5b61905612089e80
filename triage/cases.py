"""Cases: matching a message to its case, opening new ones, stages and deadlines.

Matching follows one rule from the domain: putting a message on another
person's case is the worst mistake the service can make, so a match needs
evidence and evidence that disagrees is a reason to ask a person. Every match
carries the evidence for it (which reference, which thread header, which name
or headline) and, when there is one, the doubt.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from triage import store
from triage.classifier import Verdict
from triage.config import Config
from triage.errors import CaseError
from triage.message import Email, parse
from triage.publications import PublicationIndex
from triage.references import canonical, find_references, reference_in_message_id
from triage.store import Case, Deadline, Message, Session, utcnow
from triage.text import jaccard, shingles

STAGES = ("assessment", "referred", "investigation", "decision", "review", "closed", "not_pursued")
CLOSED_STAGES = frozenset({"closed", "not_pursued"})
# Categories written by (or for) the complainant: the sender must be the
# case's complainant, or have written on the case before.
COMPLAINANT_SIDE = frozenset({"complainant_followup", "review_request", "unacceptable_behaviour"})

_WITHDRAW = re.compile(
    r"\b(withdraw(ing)?|no longer (wish|want) to (pursue|continue|proceed)|"
    r"(close|drop) (my|the) complaint|do not wish to (pursue|proceed|take (this|it) further))\b",
    re.I,
)
_URL = re.compile(r"https?://[^\s<>\"')\]]+", re.I)
# A quoted headline: quotation marks right after a word that introduces one.
_HEADLINE = re.compile(
    r"\b(?:headlined?|headline was|headline reads|titled|entitled|called|article|story|piece)\b"
    r"[^\"“‘\n]{0,40}[\"“‘]([^\"”’\n]{12,160})[\"”’]", re.I)


@dataclass
class Match:
    """Which case a message belongs to, and why."""

    case: Case | None = None
    evidence: list[str] = field(default_factory=list)
    doubt: str | None = None
    related: Case | None = None

    def describe(self) -> str:
        parts = list(self.evidence)
        if self.doubt:
            parts.append(f"DOUBT: {self.doubt}")
        return "; ".join(parts)


@dataclass(frozen=True)
class CaseContext:
    config: Config
    pubs: PublicationIndex


# ------------------------------------------------------------------ matching


def match(s: Session, email: Email, verdict: Verdict, ctx: CaseContext,
          received: datetime | None = None) -> Match:
    """Find the case ``email`` (which arrived at ``received``) belongs to, from
    the strongest evidence down."""
    found = _by_thread(s, email) + _by_reference(s, email)
    if found:
        return _check(s, email, verdict, ctx, _agree(found))
    if verdict.category == "automated":
        return Match()
    if verdict.category in COMPLAINANT_SIDE or verdict.category == "out_of_remit":
        # A complainant with an open case who writes again is most likely writing
        # about it, even when the words alone look out of remit ("any news?").
        return _by_sender(s, email, ctx)
    if verdict.category == "publication_response":
        return _by_publication(s, email, ctx)
    if verdict.category == "new_complaint":
        m = _duplicate_or_related(s, email, ctx, received or utcnow())
        if m.case is None and verdict.needs_review:
            # Not clearly a new complaint, from someone with open cases: it may well
            # be about one of them ("Further to my complaint about the Echo...").
            by_sender = _by_sender(s, email, ctx)
            if by_sender.case is not None:
                return by_sender
        return m
    return Match()


def _by_thread(s: Session, email: Email) -> list[tuple[Case, str]]:
    ids = email.thread_ids
    out: list[tuple[Case, str]] = []
    for m in store.messages_by_message_ids(s, ids):
        if m.case is not None and m.sha256 != email.sha256:
            out.append((_live(s, m.case), f"In-Reply-To/References {m.message_id} is a message on the case"))
    for d in store.drafts_by_message_ids(s, ids):
        case = store.cases_by_ids(s, [d.case_id])[0] if d.case_id else None
        if case:
            out.append((_live(s, case), f"In-Reply-To/References {d.message_id} is our draft on the case"))
    for mid in ids:
        ref = reference_in_message_id(mid)
        case = store.case_by_reference(s, ref) if ref else None
        if case and not any(c.id == case.id for c, _ in out):
            out.append((_live(s, case), f"thread header {mid} carries reference {ref}"))
    return out


def _by_reference(s: Session, email: Email) -> list[tuple[Case, str]]:
    out = []
    for where, text in (("subject", email.subject), ("new text", email.new_text),
                        ("quoted text", email.quoted_text)):
        for ref in find_references(text):
            case = store.case_by_reference(s, ref.reference)
            if case is not None:
                out.append((_live(s, case), f"reference {ref.reference} in the {where}"))
    return out


def _live(s: Session, case: Case) -> Case:
    """Follow merges to the case that survives."""
    seen = {case.id}
    while case.merged_into_id is not None:
        nxt = store.cases_by_ids(s, [case.merged_into_id])
        if not nxt or nxt[0].id in seen:
            break
        case = nxt[0]
        seen.add(case.id)
    return case


def _agree(found: list[tuple[Case, str]]) -> Match:
    cases = {c.id: c for c, _ in found}
    evidence = [e for _, e in found]
    if len(cases) == 1:
        return Match(next(iter(cases.values())), evidence)
    # Thread headers and references in what the sender wrote outrank a reference in a quote.
    strong = {c.id: c for c, e in found if "quoted text" not in e}
    if len(strong) == 1:
        case = next(iter(strong.values()))
        others = ", ".join(c.reference for c in cases.values() if c.id != case.id)
        return Match(case, [*evidence, f"other references ({others}) only in quoted text"])
    refs = ", ".join(sorted(c.reference for c in cases.values()))
    return Match(None, evidence, f"the message points to several cases ({refs})")


def _check(s: Session, email: Email, verdict: Verdict, ctx: CaseContext, m: Match) -> Match:
    """Turn a match into a doubt when the case belongs to someone else."""
    if m.case is None or verdict.category == "automated":
        return m
    case = m.case
    if verdict.category in COMPLAINANT_SIDE and not _known_correspondent(case, email):
        return Match(None, m.evidence, f"case {case.reference} belongs to another complainant "
                     f"and {email.from_addr or 'the sender'} has not written on it before")
    if verdict.category == "publication_response" and case.publication is not None:
        sender = ctx.pubs.describe_sender(email.from_addr)
        if sender is not None and not _same_publisher(ctx.pubs, email.from_addr, case.publication):
            return Match(None, m.evidence, f"sender is {sender} but case {case.reference} is "
                         f"about {case.publication.name}")
    return m


def sender_role(case: Case, email: Email, pubs: PublicationIndex) -> str | None:
    """'complainant' when the sender is the case's complainant (or has written on
    it before), 'publication' when they write for the case's publication."""
    if _known_correspondent(case, email):
        return "complainant"
    if case.publication is not None and _same_publisher(pubs, email.from_addr, case.publication):
        return "publication"
    return None


# What each party to a case can send about it (the priority order decides the rest).
ROLE_CATEGORIES = {
    "complainant": ("automated", "unacceptable_behaviour", "review_request", "complainant_followup"),
    "publication": ("automated", "unacceptable_behaviour", "review_request", "publication_response"),
}


def _same_publisher(pubs: PublicationIndex, address: str, other: store.Publication) -> bool:
    """Whether ``address`` writes for ``other`` (the title itself or its group)."""
    pub = pubs.by_sender(address)
    group = pub.group if pub is not None else pubs.group_of_sender(address)
    if pub is not None and pub.name == other.name:
        return True
    return bool(group) and group == other.group_name


def _sender_addresses(email: Email) -> set[str]:
    return {a for a in (email.from_addr, *email.reply_to) if a}


def _known_correspondent(case: Case, email: Email) -> bool:
    mine = _sender_addresses(email)
    if case.complainant_email in mine:
        return True
    return any(m.from_addr in mine for m in case.messages)


def _by_sender(s: Session, email: Email, ctx: CaseContext) -> Match:
    cases: list[Case] = []
    for addr in _sender_addresses(email):
        cases += [c for c in store.open_cases_for(s, addr) if c not in cases]
    if not cases:
        return Match()
    if len(cases) == 1:
        return Match(cases[0], [f"{cases[0].complainant_email} has exactly one open case"])
    return _pick(cases, email, ctx, f"{email.from_addr} has {len(cases)} open cases")


def _by_publication(s: Session, email: Email, ctx: CaseContext) -> Match:
    """A publication's reply without a reference: its open cases (or its group's),
    told apart by the complainant's name or the article."""
    pub = ctx.pubs.by_sender(email.from_addr)
    group = pub.group if pub else ctx.pubs.group_of_sender(email.from_addr)
    titles = [pub] if pub else (ctx.pubs.titles_in_group(group) if group else [])
    rows = [r for r in (_publication_row(s, t.name) for t in titles) if r is not None]
    if not rows:
        return Match()
    found = [c for r in rows for c in store.open_cases_for_publication(s, r.id)]
    who = pub.name if pub else f"{group} titles"
    if not found:
        return Match(None, [], f"no open case for {who} and no reference")
    return _pick(found, email, ctx, f"{len(found)} open case(s) for {who} and no reference",
                 need_evidence=True)


def _pick(cases: Sequence[Case], email: Email, ctx: CaseContext, why: str,
          need_evidence: bool = False) -> Match:
    """The one case the text points to (complainant's name, article, publication,
    earlier subject); otherwise a doubt listing the candidates."""
    text = f"{email.subject}\n{email.new_text}\n{email.quoted_text}".lower()
    scored = [(c, _pointers(c, text, ctx)) for c in cases]
    hits = [(c, p) for c, p in scored if p]
    if len(hits) == 1:
        case, pointers = hits[0]
        return Match(case, [why, *pointers])
    if not need_evidence and len(cases) == 1:
        return Match(cases[0], [why])
    candidates = [c for c, _ in hits] if hits else list(cases)
    refs = ", ".join(c.reference for c in candidates)
    return Match(None, [why], f"nothing in the message tells which case ({refs})")


def _pointers(case: Case, text: str, ctx: CaseContext) -> list[str]:
    out = []
    surname = case.complainant_name.split()[-1].lower() if case.complainant_name.strip() else ""
    if len(surname) >= 3 and re.search(rf"\b{re.escape(surname)}\b", text):
        out.append(f"names the complainant ({case.complainant_name})")
    if case.article and len(case.article) >= 12 and case.article.lower() in text:
        out.append(f"quotes the article ({case.article[:80]})")
    if case.publication and case.publication.name.lower() in text:
        out.append(f"names the publication ({case.publication.name})")
    subject = _strip_prefixes(case.subject).lower()
    if len(subject) >= 12 and subject in text:
        out.append("repeats the case's first subject")
    return out


def _strip_prefixes(subject: str) -> str:
    return re.sub(r"^\s*((re|fw|fwd|aw)\s*:\s*)+", "", subject or "", flags=re.I).strip()


def _duplicate_or_related(s: Session, email: Email, ctx: CaseContext, received: datetime) -> Match:
    """The same complainant's recent similar complaint, or another person's case
    about the same article (to be linked as related)."""
    window = received - timedelta(days=ctx.config.cases.duplicate_window_days)
    for addr in _sender_addresses(email):
        for case in store.open_cases_for(s, addr):
            if case.opened_at >= window:
                sim = _similarity(s, case, email, ctx)
                if sim >= ctx.config.cases.duplicate_similarity:
                    return Match(case, [f"same complainant sent a similar complaint "
                                        f"(similarity {sim:.2f}) on {case.opened_at:%d %b %Y}"])
    article = article_of(email, ctx.pubs)
    if article:
        for case in store.cases_with_article(s, article):
            if case.complainant_email not in _sender_addresses(email):
                return Match(None, [], None, related=case)
    return Match()


def _similarity(s: Session, case: Case, email: Email, ctx: CaseContext) -> float:
    """Word 3-gram Jaccard similarity of ``email`` and the case's first complaint."""
    first = next((m for m in case.messages if m.category == "new_complaint"), None)
    if first is None:
        return 0.0
    earlier = parse(store.raw_bytes(s, first.id), ctx.config.limits)
    return jaccard(shingles(earlier.new_text, 3), shingles(email.new_text, 3))


# ------------------------------------------------------------------ opening


def article_of(email: Email, pubs: PublicationIndex) -> str:
    """The article a complaint is about: a link to a member title, else a quoted headline."""
    text = f"{email.subject}\n{email.new_text}"
    for url in _URL.findall(text):
        if pubs.by_sender("x@" + url.split("/")[2]) is not None:
            return url.rstrip(".,;")[:500]
    m = _HEADLINE.search(email.new_text)
    return m.group(1).strip()[:500] if m else ""


def open_case(s: Session, email: Email, ctx: CaseContext, message: Message) -> Case:
    """A new case in assessment with the next reference of this year."""
    year = utcnow().year % 100
    number = store.next_reference_number(s, year)
    mentioned = ctx.pubs.mentioned(f"{email.subject}\n{email.new_text}\n{email.quoted_text}")
    pub_row = _publication_row(s, mentioned[0].name) if mentioned else None
    complainant = email.reply_to[0] if email.reply_to else email.from_addr
    received = message.internal_date or utcnow()  # the complaint counts from when it arrived
    case = Case(reference=canonical(number, year), stage="assessment",
                complainant_name=email.from_name[:200], complainant_email=complainant,
                publication_id=pub_row.id if pub_row else None, publication=pub_row,
                article=article_of(email, ctx.pubs), subject=email.subject[:500],
                opened_at=received, stage_changed_at=received)
    s.add(case)
    s.flush()
    store.add_event(s, "case_opened", f"new complaint from {complainant}", case=case,
                    message=message, new=case.reference)
    if pub_row is None:
        store.add_event(s, "publication_unknown", "no member publication named in the complaint",
                        case=case, message=message)
    return case


def _publication_row(s: Session, name: str) -> store.Publication | None:
    return store.publication_by_name(s, name)


# ------------------------------------------------------------------ stages and deadlines


def set_stage(s: Session, case: Case, stage: str, *, cause: str, actor: str = "service",
              message: Message | None = None, at: datetime | None = None,
              decision: str | None = None, ctx: CaseContext) -> None:
    """Move ``case`` to ``stage`` with an event, and open or close the deadlines that follow."""
    if stage not in STAGES:
        raise CaseError(f"unknown stage {stage!r}; stages are {', '.join(STAGES)}")
    at = at or utcnow()
    old = case.stage
    case.stage = stage
    case.stage_changed_at = at
    store.add_event(s, "stage", cause, case=case, message=message, actor=actor, old=old, new=stage)
    d = ctx.config.deadlines
    if stage == "referred":
        case.referred_at = at
        add_deadline(s, case, "publication_resolution", "publication", at, d.publication_resolution_days)
    if stage == "decision":
        kind = decision or "committee"
        case.decision_at, case.decision_kind = at, kind
        days = d.review_after_assessment_days if kind == "assessment" else d.review_after_decision_days
        add_deadline(s, case, "review_window", "complainant", at, days)
    if stage in CLOSED_STAGES:
        case.closed_at = at
        close_deadlines(s, case, "cancelled", at)
    elif old in CLOSED_STAGES:
        case.closed_at = None


def add_deadline(s: Session, case: Case, kind: str, party: str, start: datetime, days: int) -> Deadline:
    for d in case.deadlines:
        if d.kind == kind and d.status == "open":
            d.status, d.closed_at = "superseded", utcnow()
    deadline = Deadline(case=case, kind=kind, party=party, starts=start,
                        due=(start + timedelta(days=days)).date(), status="open")
    s.add(deadline)
    store.add_event(s, "deadline", f"{kind} for the {party}: {days} days", case=case,
                    new=deadline.due.isoformat())
    return deadline


def close_deadlines(s: Session, case: Case, status: str, at: datetime,
                    kinds: Iterable[str] | None = None, party: str | None = None) -> None:
    wanted = set(kinds) if kinds is not None else None
    for d in case.deadlines:
        if d.status != "open" or (wanted is not None and d.kind not in wanted):
            continue
        if party is None or d.party == party:
            d.status, d.closed_at = status, at
            store.add_event(s, "deadline", f"{d.kind} {status}", case=case, old="open", new=status)


@dataclass(frozen=True)
class ReviewTiming:
    in_time: bool | None
    decision_at: datetime | None
    window_days: int | None
    days_after: int | None

    def describe(self) -> str:
        if self.in_time is None:
            return "no decision date on the case: timing not checked"
        return (f"{'in time' if self.in_time else 'out of time'}: {self.days_after} days after the "
                f"decision of {self.decision_at:%d %B %Y} (window {self.window_days} days)")


def review_timing(case: Case | None, received: datetime, ctx: CaseContext) -> ReviewTiming:
    """Whether a review request received at ``received`` is within the window of
    the decision the case holds."""
    if case is None or case.decision_at is None:
        return ReviewTiming(None, None, None, None)
    d = ctx.config.deadlines
    window = d.review_after_assessment_days if case.decision_kind == "assessment" else \
        d.review_after_decision_days
    days = (received.date() - case.decision_at.date()).days
    return ReviewTiming(days <= window, case.decision_at, window, days)


def apply(s: Session, case: Case, email: Email, verdict: Verdict, message: Message,
          ctx: CaseContext, received: datetime) -> ReviewTiming | None:
    """Move the case on as a person would for this message; returns the review
    timing for review requests."""
    category = verdict.category
    if category == "review_request":
        timing = review_timing(case, received, ctx)
        close_deadlines(s, case, "met", received, kinds=["review_window"])
        set_stage(s, case, "review", cause=f"review request ({timing.describe()})", message=message,
                  at=received, ctx=ctx)
        return timing
    if category == "publication_response":
        close_deadlines(s, case, "met", received, party="publication")
        if case.stage == "referred":
            store.add_event(s, "publication_response", "response during referral", case=case,
                            message=message)
    if category == "complainant_followup":
        close_deadlines(s, case, "met", received, kinds=["correspondence"], party="complainant")
        if _WITHDRAW.search(email.new_text) and case.stage not in CLOSED_STAGES:
            set_stage(s, case, "closed", cause="complainant withdrew the complaint",
                      message=message, at=received, ctx=ctx)
    return None


def merge(s: Session, source: Case, target: Case, actor: str, ctx: CaseContext) -> None:
    """Merge ``source`` into ``target``: its messages move, it is closed as merged."""
    if source.id == target.id:
        raise CaseError("cannot merge a case into itself")
    for m in list(source.messages):
        m.case_id = target.id
        store.add_event(s, "message_moved", f"merged {source.reference} into {target.reference}",
                        case=target, message=m, actor=actor, old=source.reference,
                        new=target.reference)
    source.merged_into_id = target.id
    close_deadlines(s, source, "cancelled", utcnow())
    source.closed_at = utcnow()
    store.add_event(s, "merged", f"merged into {target.reference}", case=source, actor=actor,
                    old=source.reference, new=target.reference)
