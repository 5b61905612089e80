"""The supervisors' digest against a real SMTP server on loopback and a database
filled by real poll cycles."""

from __future__ import annotations

import email
from datetime import date, datetime, timedelta
from email.policy import default
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller

from tests.conftest import imap
from tests.mail import COMPLAINT, message
from triage import digest, store
from triage.cli import main
from triage.errors import DeliveryError
from triage.localserver import free_port
from triage.reports import stats

ROOT = Path(__file__).resolve().parents[1]


class Inbox:
    """An aiosmtpd handler that keeps what it receives and can refuse the first N messages."""

    def __init__(self) -> None:
        self.received: list[tuple[list[str], bytes]] = []
        self.refuse = 0

    async def handle_DATA(self, server, session, envelope):
        if self.refuse:
            self.refuse -= 1
            return "451 4.3.0 Try again later"
        self.received.append((list(envelope.rcpt_tos), envelope.content))
        return "250 OK"


@pytest.fixture
def smtp():
    handler = Inbox()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield handler, controller.port
    controller.stop()


@pytest.fixture
def filled(make_config, database_url, imap_user, dovecot, smtp, capsys):
    """A mailbox and database after real poll cycles over the demo inbox plus a hostile subject."""
    handler, port = smtp
    cfg = make_config(database_url, imap_user, smtp_port=port, digest_enabled="true")
    assert main(["--config", str(cfg.path), "init"]) == 0
    client = imap(dovecot, imap_user)
    for path in sorted((ROOT / "demo" / "inbox").glob("*.eml")):
        client.append("INBOX", path.read_bytes())
    hostile = "\"<script>alert('x')</script> & 'quotes'\" <eve@example.net>"
    client.append("INBOX", message(hostile, "Complaint about Daily Mail article", COMPLAINT))
    assert main(["--config", str(cfg.path), "poll", "--once"]) == 0
    client.logout()
    capsys.readouterr()
    db = store.Store(cfg.database_url)
    yield cfg, db, handler
    db.dispose()


def parts(raw: bytes) -> tuple[str, str, email.message.EmailMessage]:
    msg = email.message_from_bytes(raw, policy=default)
    assert msg.get_content_type() == "multipart/alternative"
    return msg.get_body(("plain",)).get_content(), msg.get_body(("html",)).get_content(), msg


def test_digest_arrives_once_with_figures_matching_the_database(filled):
    cfg, db, inbox = filled
    today = date.today()
    no_wait = lambda _s: None  # noqa: E731
    assert "sent to supervisor@example.org" in digest.deliver(cfg, db, today, sleep=no_wait)
    assert len(inbox.received) == 1
    rcpts, raw = inbox.received[0]
    assert sorted(rcpts) == ["deputy@example.org", "supervisor@example.org"]
    text, html, msg = parts(raw)
    assert msg["Auto-Submitted"] == "auto-generated"

    with db.transaction() as s:
        figures = stats(s)
        refs = [c.reference for c in s.scalars(store.select(store.Case))]
    assert f"{figures['messages']} message(s) in, {figures['cases']} new case(s)" in text
    for category, n in figures["by_category"].items():
        assert f"{category.replace('_', ' '):<24} {n:>4}" in text
    for ref in refs:
        assert ref in text and ref in html
    assert f"{figures['needs_review']} of {figures['messages']} needs review" in text
    # Names and subjects are escaped; no message body is ever included.
    assert "<script>" not in html and "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &#39;quotes&#39;" in html
    assert "Clacton" not in text + html  # a phrase from a message body

    # The scheduled job runs again the same day, in this process and after a restart.
    assert "already sent" in digest.deliver(cfg, db, today, sleep=no_wait)
    restarted = store.Store(cfg.database_url)
    assert "already sent" in digest.deliver(cfg, restarted, today, sleep=no_wait)
    restarted.dispose()
    assert len(inbox.received) == 1


def test_smtp_failure_is_retried_then_recorded_and_reported(filled):
    cfg, db, inbox = filled
    day = date.today()
    inbox.refuse = 1
    waits: list[float] = []
    assert "sent" in digest.deliver(cfg, db, day, sleep=waits.append)
    assert len(inbox.received) == 1 and waits == [2.0]

    inbox.refuse = 10
    other_day = day - timedelta(days=1)
    with pytest.raises(DeliveryError, match="not delivered after 3 attempts"):
        digest.deliver(cfg, db, other_day, sleep=waits.append)
    with db.transaction() as s:
        run = s.scalars(store.select(store.DigestRun).where(store.DigestRun.day == other_day)).one()
        assert (run.state, run.attempts) == ("failed", 3) and "451" in run.last_error
    # catch_up (run every few minutes by `triage run`) retries the failed day once the server is back.
    inbox.refuse = 0
    digest.catch_up(cfg, db, now=datetime.combine(day, cfg.digest.send_at) + timedelta(minutes=5))
    assert len(inbox.received) == 2
    text, _, _ = parts(inbox.received[1][1])
    assert "digest_failed" in text  # the failure is reported in the digest that finally went out
    digest.catch_up(cfg, db, now=datetime.combine(day, cfg.digest.send_at) + timedelta(minutes=15))
    assert len(inbox.received) == 2


def test_cli_renders_without_sending(filled, tmp_path, capsys):
    cfg, _db, inbox = filled
    out = tmp_path / "digest.html"
    assert main(["--config", str(cfg.path), "digest", "--out", str(out), "--day", date.today().isoformat()]) == 0
    html = out.read_text()
    assert html.startswith("<!doctype html>") and "Last 14 days" in html and "<script" not in html
    assert inbox.received == []
