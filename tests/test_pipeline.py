"""Whole poll cycles against a real Dovecot, on SQLite and on PostgreSQL."""

from __future__ import annotations

import email
import zlib

from sqlalchemy import select

from tests.conftest import CORPUS, folder_messages, imap
from tests.mail import COMPLAINT, FOLLOWUP, OUT_OF_OFFICE, message
from triage import store
from triage.cli import main


def header_values(msg) -> dict[str, str]:
    """Headers unfolded (long Message-IDs are folded onto a second line)."""
    return {k: " ".join(str(v).split()) for k, v in msg.items()}


def init(cfg) -> None:
    assert main(["--config", str(cfg.path), "init"]) == 0


def poll(cfg, capsys) -> str:
    capsys.readouterr()
    assert main(["--config", str(cfg.path), "poll", "--once"]) == 0
    return capsys.readouterr().out


def stats(cfg) -> dict:
    db = store.Store(cfg.database_url)
    with db.transaction() as s:
        from triage.reports import stats as figures

        result = figures(s)
    db.dispose()
    return result


def test_new_complaint_reply_and_out_of_office(make_config, database_url, imap_user, dovecot, capsys):
    cfg = make_config(database_url, imap_user)
    init(cfg)
    client = imap(dovecot, imap_user)
    complaint = message("Margaret Hollis <mags.hollis@btinternet.com>",
                        "Complaint about Daily Mail article", COMPLAINT)
    client.append("INBOX", complaint)
    out = poll(cfg, capsys)
    assert "new_complaint" in out and "case 00001-" in out, out

    drafts = folder_messages(client, "Drafts")
    assert len(drafts) == 1
    draft = header_values(email.message_from_bytes(next(iter(drafts.values()))))
    original = header_values(email.message_from_bytes(complaint))
    assert draft["In-Reply-To"] == original["Message-ID"]
    assert original["Message-ID"] in draft["References"]
    assert draft["To"].endswith("<mags.hollis@btinternet.com>")
    assert "[Ref 00001-" in draft["Subject"] and draft["Subject"].startswith("Re: ")
    assert draft["Message-ID"].startswith("<triage.00001-")
    client.select_folder("Drafts", readonly=True)
    assert b"\\Draft" in client.get_flags(client.search(["ALL"]))[client.search(["ALL"])[0]]
    assert folder_messages(client, "INBOX") == {}
    assert len(folder_messages(client, "Triage/New complaint")) == 1

    # The complainant answers the draft (subject edited, no reference in the text).
    reply = message("Margaret Hollis <mags.hollis@btinternet.com>", "the date you asked for",
                    FOLLOWUP, headers={"In-Reply-To": draft["Message-ID"],
                                       "References": f"{original['Message-ID']} {draft['Message-ID']}"})
    ooo = message("Newsdesk <newsdesk@example.net>", "Automatic reply: your message", OUT_OF_OFFICE,
                  headers={"Auto-Submitted": "auto-replied"})
    client.append("INBOX", reply)
    client.append("INBOX", ooo)
    out = poll(cfg, capsys)
    assert "automated" in out

    db = store.Store(cfg.database_url)
    with db.transaction() as s:
        case = store.case_by_reference(s, f"00001-{draft['Message-ID'][14:16]}")
        assert case is not None
        assert [m.from_addr for m in case.messages] == ["mags.hollis@btinternet.com"] * 2
        assert "our draft on the case" in (case.messages[1].match_evidence or "")
        auto = s.scalars(select(store.Message).where(store.Message.category == "automated")).one()
        assert auto.drafts == [] and auto.case_id is None
        assert auto.classified_by == "rule"
    db.dispose()
    assert len(folder_messages(client, "Drafts")) == 2  # the complaint's and the follow-up's
    assert len(folder_messages(client, "Triage/Automated")) == 1

    before = stats(cfg)
    out = poll(cfg, capsys)
    assert "0 new message(s) recorded, 0 processed" in out
    assert stats(cfg) == before
    assert len(folder_messages(client, "Drafts")) == 2
    client.logout()


def test_every_corpus_message_is_recorded_once(make_config, database_url, imap_user, dovecot, capsys):
    cfg = make_config(database_url, imap_user)
    init(cfg)
    client = imap(dovecot, imap_user)
    files = sorted(CORPUS.glob("*/*.eml"))
    assert len(files) >= 100
    for path in files:
        client.append("INBOX", path.read_bytes())
    on_server = folder_messages(client, "INBOX")
    assert len(on_server) == len(files)
    out = poll(cfg, capsys)
    assert f"{len(files)} new message(s) recorded" in out

    db = store.Store(cfg.database_url)
    with db.transaction() as s:
        records = s.scalars(select(store.Message)).all()
        assert len(records) == len(files)
        raws = {r.uid: zlib.decompress(s.get(store.RawMessage, r.id).data) for r in records}
        assert raws == on_server  # every message, byte for byte
        for r in records:
            assert r.state in ("done", "quarantined"), (r.uid, r.state, r.error)
            assert r.category is not None or r.parse_error or r.error, r.uid
    db.dispose()
    assert folder_messages(client, "INBOX") == {}
    client.logout()
