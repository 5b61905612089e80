"""Cases that follow the complaints process: realistic threads told as dated emails,
run through real poll cycles on Dovecot, with the cases, stages, deadlines, events
and drafts they produce."""

from __future__ import annotations

import email
import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from tests.conftest import folder_messages, imap
from tests.mail import COMPLAINT, message
from triage import store
from triage.cli import main

NOW = datetime.now(UTC).replace(microsecond=0)
YY = f"{NOW.year % 100:02d}"


class Inbox:
    def __init__(self, cfg, client, capsys):
        self.cfg, self.client, self.capsys = cfg, client, capsys

    def arrives(self, raw: bytes, day: int) -> None:
        """A message reaching the inbox ``day`` days into the scenario (INTERNALDATE)."""
        self.client.append("INBOX", raw, msg_time=NOW - timedelta(days=60 - day))

    def cycle(self) -> str:
        return self.triage("poll", "--once")

    def triage(self, *args: str) -> str:
        self.capsys.readouterr()
        assert main(["--config", str(self.cfg.path), *args]) == 0
        return self.capsys.readouterr().out

    def day(self, n: int) -> str:
        return (NOW - timedelta(days=60 - n)).isoformat()

    def case(self, ref: str) -> dict:
        return json.loads(self.triage("show", ref, "--json"))

    def drafts(self) -> list[email.message.Message]:
        return [email.message_from_bytes(raw) for raw in folder_messages(self.client, "Drafts").values()]


@pytest.fixture
def inbox(make_config, database_url, imap_user, dovecot, capsys):
    cfg = make_config(database_url, imap_user)
    assert main(["--config", str(cfg.path), "init"]) == 0
    client = imap(dovecot, imap_user)
    yield Inbox(cfg, client, capsys)
    client.logout()


def draft_text(msg) -> str:
    return msg.get_payload(decode=True).decode()


SUN_COMPLAINT = (
    "Dear Sir or Madam,\n\nI want to complain about an article in The Sun on 2 October headlined "
    "\"Love rat dad's secret second family\". It names me and says I have a secret second family in "
    "Leeds. This is completely untrue: the woman in the photograph is my sister and the children are "
    "her sons. The reporter never contacted me before publishing. The article is inaccurate and "
    "breaches Clause 1 of the Editors' Code, and publishing my children's photos breaches Clause 6. "
    "I would like a correction.\n\nRegards,\nDavid Okafor\n")


def test_referred_answered_after_20_days_and_resolved(inbox):
    inbox.arrives(message("David Okafor <d.okafor@gmail.com>", "Complaint: The Sun bin strike article",
                          SUN_COMPLAINT), day=0)
    out = inbox.cycle()
    ref = f"00001-{YY}"
    assert f"case {ref}" in out
    inbox.triage("case", "stage", ref, "referred", "--at", inbox.day(1), "--actor", "officer.jones")
    case = inbox.case(ref)
    assert case["stage"] == "referred" and case["publication"] == "The Sun"
    assert [(d["kind"], d["party"], d["status"]) for d in case["deadlines"]] == [
        ("publication_resolution", "publication", "open")]
    due = case["deadlines"][0]["due"]
    assert due == (NOW - timedelta(days=60 - 29)).date().isoformat()
    listed = [json.loads(x) for x in inbox.triage("deadlines", "--json", "--days", "400").splitlines()]
    assert [(d["reference"], d["kind"], d["overdue"]) for d in listed] == [(ref, "publication_resolution", True)]

    inbox.arrives(message("Helen Marsh <helen.marsh@news.co.uk>", f"RE: Referral of complaint {ref}",
                          f"Dear IPSO,\n\nThank you for your letter referring Mr Okafor's complaint "
                          f"(your ref {ref}). We have looked into it: the photograph was wrongly "
                          "captioned. We have removed it from the online article and would be happy to "
                          "publish the following correction on page 2: \"An article of 2 October wrongly "
                          "suggested Mr David Okafor had a second family. We apologise.\"\n\n"
                          "Helen Marsh\nManaging Editor, The Sun\n"), day=21)
    out = inbox.cycle()
    assert "publication_response" in out and f"case {ref}" in out
    case = inbox.case(ref)
    assert case["deadlines"][0]["status"] == "met"
    assert [m["category"] for m in case["messages"]] == ["new_complaint", "publication_response"]
    assert "reference " + ref in case["messages"][1]["evidence"]

    inbox.arrives(message("David Okafor <d.okafor@gmail.com>", f"Re: Complaint {ref}",
                          "Hello,\n\nThe Sun has now published the correction and taken the photo down. "
                          "I am happy with that, so please close my complaint. Thank you for your help.\n\n"
                          "David\n"), day=30)
    inbox.cycle()
    case = inbox.case(ref)
    assert case["stage"] == "closed" and case["closed_at"]
    stage_events = [(e["old"], e["new"], e["actor"]) for e in case["events"] if e["kind"] == "stage"]
    assert stage_events == [("assessment", "referred", "officer.jones"), ("referred", "closed", "service")]
    assert len(inbox.drafts()) == 3


def test_review_requests_in_time_and_out_of_time(inbox):
    for n, (name, addr) in enumerate([("Ann Price", "ann.price@outlook.com"), ("Raj Patel", "raj.p@btinternet.com")]):
        inbox.arrives(message(f"{name} <{addr}>", "Complaint about the Daily Mirror",
                              "I wish to complain about a Daily Mirror article on 12 October which said my "
                              "late father's death was suicide. The inquest has not been held. This is "
                              "inaccurate and intrusive at a time of grief (Clauses 1 and 4).\n\n" + name), day=n)
    inbox.cycle()
    for ref in (f"00001-{YY}", f"00002-{YY}"):
        inbox.triage("case", "stage", ref, "decision", "--decision", "assessment", "--at", inbox.day(10))
        assert inbox.case(ref)["deadlines"][0]["kind"] == "review_window"
    ask = ("Dear IPSO,\n\nI have your letter saying my complaint {ref} raises no breach of the Code. "
           "I do not accept this decision and I ask for it to be reviewed. The Mirror printed as fact "
           "something the coroner has not decided.\n\n{name}\n")
    inbox.arrives(message("Ann Price <ann.price@outlook.com>", f"Re: your complaint {'00001-' + YY}",
                          ask.format(ref=f"00001-{YY}", name="Ann Price")), day=15)
    inbox.arrives(message("Raj Patel <raj.p@btinternet.com>", f"Re: your complaint {'00002-' + YY}",
                          ask.format(ref=f"00002-{YY}", name="Raj Patel")), day=22)
    out = inbox.cycle()
    assert out.count("review_request") == 2, out
    ann, raj = inbox.case(f"00001-{YY}"), inbox.case(f"00002-{YY}")
    assert ann["stage"] == raj["stage"] == "review"
    assert "in time: 5 days after the decision" in ann["events"][-2]["reason"] + ann["events"][-1]["reason"] \
        or any("in time: 5 days" in e["reason"] for e in ann["events"])
    assert any("out of time: 12 days" in e["reason"] for e in raj["events"])
    assert [d["kind"] for d in raj["deadlines"] if d["status"] == "open"] == ["correspondence"]
    texts = {d["To"]: draft_text(d) for d in inbox.drafts() if "review" in draft_text(d)}
    ann_text = next(t for to, t in texts.items() if "ann.price" in to)
    raj_text = next(t for to, t in texts.items() if "raj.p" in to)
    assert "within the 7-day period" in ann_text
    assert "12 days after our decision" in raj_text and "outside the 7-day period" in raj_text
    assert "explaining why" in raj_text


def test_complainant_with_two_open_cases_writing_without_reference(inbox):
    sender = "Carol Nkemelu <carol.n@yahoo.co.uk>"
    inbox.arrives(message(sender, "Complaint about The Times",
                          "I wish to complain about a Times article of 1 October that published my home "
                          "address and photographs of my children without consent. This breaches Clauses 2 "
                          "and 6.\nCarol Nkemelu"), day=0)
    inbox.arrives(message(sender, "Complaint about the Liverpool Echo",
                          "I also want to complain about the Liverpool Echo report of 3 October that wrongly "
                          "says I was charged with assault. I was never charged. Clause 1.\nCarol Nkemelu"), day=1)
    inbox.cycle()
    inbox.arrives(message(sender, "update?", "Hello, is there any news on my complaint? It has been weeks.\nCarol"),
                  day=20)
    inbox.arrives(message(sender, "more information",
                          "Further to my complaint about the Liverpool Echo, I attach the letter from the "
                          "police confirming I was never charged.\nCarol"), day=21)
    inbox.cycle()
    db = store.Store(inbox.cfg.database_url)
    with db.transaction() as s:
        rows = s.scalars(select(store.Message).order_by(store.Message.id)).all()
        vague, pointed = rows[2], rows[3]
        assert vague.case_id is None and vague.needs_review
        assert "has 2 open cases" in vague.match_evidence and "nothing in the message tells" in vague.review_reason
        assert pointed.case.reference == f"00002-{YY}" and "names the publication (Liverpool Echo)" in pointed.match_evidence
        # The pointed message raised no doubt about its case (whether the classifier is
        # sure of its category is another matter, and not what this test is about).
        assert "nothing in the message tells" not in (pointed.review_reason or "")
    db.dispose()
    in_review = folder_messages(inbox.client, "Triage/Needs review").values()
    assert sum(b"Subject: update?" in raw for raw in in_review) == 1
    assert not any(b"Subject: Complaint about" in raw for raw in in_review)


def test_publication_lawyer_from_freemail_and_duplicate_complaint(inbox):
    raw = message("Margaret Hollis <mags.hollis@btinternet.com>", "Complaint about Daily Mail article", COMPLAINT)
    inbox.arrives(raw, day=0)
    inbox.cycle()
    ref = f"00001-{YY}"
    # She sends the same complaint again a few days later (a new message, same text).
    inbox.arrives(message("Margaret Hollis <mags.hollis@btinternet.com>", "Complaint about Daily Mail article",
                          COMPLAINT), day=3)
    # The publisher's lawyer answers from a personal address, quoting the reference.
    inbox.arrives(message("Tom Reid <tom.reid.law@gmail.com>", f"IPSO complaint {ref} - Mrs Hollis",
                          "Dear Sirs,\n\nWe act for Associated Newspapers, publisher of the Daily Mail, in "
                          f"relation to the complaint of Mrs Hollis (your ref {ref}). Our client does not "
                          "accept that the article was inaccurate: the figures came from the council's own "
                          "published accounts. Our client's full response is attached.\n\nYours faithfully,\n"
                          "Tom Reid, Solicitor\n", attachments=[("response.pdf", b"%PDF-1.4 response")]), day=9)
    inbox.cycle()
    assert "00002-" not in inbox.triage("cases")
    case = inbox.case(ref)
    cats = [m["category"] for m in case["messages"]]
    # Sending the same complaint again is about the existing case: a follow-up on it.
    assert cats == ["new_complaint", "complainant_followup", "publication_response"], cats
    assert "similar complaint" in case["messages"][1]["evidence"]
    assert case["messages"][2]["from"] == "tom.reid.law@gmail.com"
    assert f"reference {ref}" in case["messages"][2]["evidence"]
