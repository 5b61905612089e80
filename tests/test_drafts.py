"""Reply drafts: well-formed, addressed only to the sender, immune to header injection."""

from __future__ import annotations

import email
from datetime import UTC, datetime
from email.policy import default
from pathlib import Path

import pytest

from tests.mail import message
from triage.config import LimitsConfig, TeamConfig
from triage.drafts import DraftPlan, NoDraft, build, environment, reply_subject
from triage.message import parse

ROOT = Path(__file__).resolve().parents[1]
TEAM = TeamConfig("Complaints Team", "complaints@example.org", "The Team", ("noreply@*", "*@never.example"), 3)
LIMITS = LimitsConfig(5_000_000, 200, 100_000)


def draft_for(raw: bytes, category: str = "new_complaint", reference: str | None = "00042-26"):
    from triage.config import DeadlinesConfig

    ctx = {"publication": "The Sun", "deadlines": DeadlinesConfig(28, 7, 14, 14), "timing": None,
           "stage_text": "being assessed", "withdrawn": False}
    return build(parse(raw, LIMITS), category=category, reference=reference, team=TEAM,
                 env=environment(ROOT / "templates"), context=ctx, record_id=7,
                 now=datetime(2026, 11, 23, 9, 0, tzinfo=UTC))


def test_well_formed_reply_threads_and_names_the_case():
    raw = message("Jo Bloggs <jo@example.net>", "Complaint about The Sun", "text", msgid="<orig@x.net>",
                  headers={"References": "<older@x.net>"})
    plan = draft_for(raw)
    assert isinstance(plan, DraftPlan)
    msg = email.message_from_bytes(plan.raw, policy=default)
    assert msg["To"] == "Jo Bloggs <jo@example.net>" and msg["From"] == "Complaints Team <complaints@example.org>"
    assert msg["Subject"] == "Re: Complaint about The Sun [Ref 00042-26]"
    assert msg["In-Reply-To"] == "<orig@x.net>" and msg["References"] == "<older@x.net> <orig@x.net>"
    assert msg["Message-ID"].startswith("<triage.00042-26.m7.")
    body = msg.get_content()
    assert "00042-26" in body and "The Sun" in body and "28 days" in body and "The Team" in body
    assert draft_for(raw).message_id == plan.message_id  # the same draft planned twice is the same draft


def test_reply_to_is_honoured_and_nothing_else_is_added():
    raw = message("Jo <jo@example.net>", "x", "y", headers={"Reply-To": "jo.home@example.com",
                                                             "Cc": "victim@example.com"})
    msg = email.message_from_bytes(draft_for(raw).raw, policy=default)
    assert msg["To"] == "jo.home@example.com" and msg["Cc"] is None and msg["Bcc"] is None


@pytest.mark.parametrize("subject", [
    "Hello\r\nBcc: attacker@evil.example", "Hi =?utf-8?q?x=0D=0ABcc:_attacker@evil.example?=",
    "\u202eevil\u202c subject\x00",
])
def test_header_injection_through_subject_or_name_is_inert(subject):
    raw = (f"From: =?utf-8?q?Evil=0D=0ABcc:_x@evil.example?= <jo@example.net>\r\n"
           f"Subject: {subject}\r\nMessage-ID: <m@x>\r\n\r\nbody").encode()
    plan = draft_for(raw)
    msg = email.message_from_bytes(plan.raw, policy=default)
    assert msg["Bcc"] is None and msg["Cc"] is None
    assert list(msg.keys()) == ["From", "To", "Subject", "Date", "Message-ID", "In-Reply-To",
                                        "References", "X-Triage-Case", "Content-Type",
                                        "Content-Transfer-Encoding", "MIME-Version"]
    assert "\n" not in msg["Subject"] and "\u202e" not in msg["Subject"]
    assert plan.to_addr == "jo@example.net"


@pytest.mark.parametrize(("sender", "why"), [
    ("complaints@example.org", "team's own address"),
    ("noreply@paper.example", "never_reply"),
    ("someone@never.example", "never_reply"),
    ("not-an-address", "no usable sender"),
])
def test_never_drafts_to_forbidden_addresses(sender, why):
    plan = draft_for(message(sender, "x", "y"))
    assert isinstance(plan, NoDraft) and why in plan.reason


def test_no_draft_for_automated_or_abuse():
    for category in ("automated", "unacceptable_behaviour"):
        assert isinstance(draft_for(message("a@b.org", "x", "y"), category), NoDraft)


def test_subjects():
    assert reply_subject("RE: Fwd: my complaint", "00001-26") == "Re: my complaint [Ref 00001-26]"
    assert reply_subject("Re: my complaint [Ref 00001-26]", "00001-26") == "Re: my complaint [Ref 00001-26]"
    assert reply_subject("", None) == "Re: your message"


def test_templates_are_sandboxed(tmp_path):
    (tmp_path / "drafts").mkdir()
    (tmp_path / "drafts" / "new_complaint.txt.j2").write_text("{{ ''.__class__.__mro__[1].__subclasses__() }}")
    from triage.errors import ConfigError

    with pytest.raises(ConfigError, match=r"template drafts/new_complaint\.txt\.j2"):
        build(parse(message("a@b.org", "x", "y"), LIMITS), category="new_complaint", reference=None,
              team=TEAM, env=environment(tmp_path), context={}, record_id=1, now=datetime.now(UTC))


@pytest.mark.parametrize("category", sorted(__import__("triage.drafts").drafts.DRAFTED))
@pytest.mark.parametrize("with_case", [False, True])
def test_every_reply_template_renders_with_or_without_a_case(category, with_case):
    from triage.cases import ReviewTiming
    from triage.config import DeadlinesConfig

    timing = ReviewTiming(False, datetime(2026, 11, 1, tzinfo=UTC), 7, 12) if with_case else None
    ctx = {"publication": "The Sun" if with_case else None, "deadlines": DeadlinesConfig(28, 7, 14, 14),
           "timing": timing, "stage_text": "being assessed" if with_case else None, "withdrawn": False}
    plan = build(parse(message("Jo <jo@example.net>", "x", "y"), LIMITS), category=category,
                 reference="00042-26" if with_case else None, team=TEAM, env=environment(ROOT / "templates"),
                 context=ctx, record_id=3, now=datetime.now(UTC))
    body = email.message_from_bytes(plan.raw, policy=default).get_content()
    assert "Dear Jo" in body and "The Team" in body and "{{" not in body
    assert ("00042-26" in body) == (with_case and category != "out_of_remit")
