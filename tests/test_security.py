"""Lets no one in and leaks nothing: TLS verified by default, secrets never printed,
logged or stored, no message bodies in logs, and retention that really forgets."""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text

from tests.conftest import imap
from tests.mail import COMPLAINT, message
from triage import store
from triage.config import build_config
from triage.errors import MailboxError
from triage.localserver import PASSWORD, LocalDovecot
from triage.mailbox import Mailbox

BODY_MARK = "Zanzibar-Quokka-7781"


@pytest.fixture(scope="module")
def tls_dovecot(tmp_path_factory):
    """A Dovecot speaking TLS with a self-signed certificate for 127.0.0.1."""
    d = tmp_path_factory.mktemp("tls")
    key, cert = d / "key.pem", d / "cert.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1"], check=True, capture_output=True)
    key.chmod(0o644)
    server = LocalDovecot(tls_cert=cert, tls_key=key).start()
    yield server, cert
    server.cleanup()


def imap_config(port: int, security: str, ca: Path | None = None):
    data = {"team": {"address": "complaints@example.org"},
            "imap": {"host": "127.0.0.1", "port": port, "security": security, "username": "tls-user",
                     "password_env": "UNUSED"}}
    if ca:
        data["imap"]["ca_file"] = str(ca)
    return build_config(data, Path("/tmp/config.toml")).imap


def test_tls_certificates_are_verified_by_default(tls_dovecot):
    server, cert = tls_dovecot
    creds = lambda: ("password", PASSWORD)  # noqa: E731
    with pytest.raises(MailboxError, match=r"CERTIFICATE_VERIFY_FAILED|certificate verify failed"):
        Mailbox.connect(imap_config(server.ssl_port, "tls"), creds)
    box = Mailbox.connect(imap_config(server.ssl_port, "tls", ca=cert), creds)
    assert box.select("INBOX").exists == 0
    box.close()
    box = Mailbox.connect(imap_config(server.port, "starttls", ca=cert), creds)
    box.close()


def test_secrets_and_bodies_never_reach_logs_output_or_database(make_config, database_url, imap_user,
                                                                  dovecot, monkeypatch, capfd):
    cfg = make_config(database_url, imap_user)
    from triage.cli import main

    # A wrong password first: the error names where the secret came from, never its value.
    monkeypatch.setenv("TRIAGE_TEST_IMAP_PASSWORD", "Wr0ng-Pa55word-Unique")
    assert main(["--config", str(cfg.path), "init"]) == 1
    out, err = capfd.readouterr()
    assert "IMAP login refused" in err and "Wr0ng-Pa55word-Unique" not in out + err
    monkeypatch.setenv("TRIAGE_TEST_IMAP_PASSWORD", PASSWORD)
    assert main(["--config", str(cfg.path), "init"]) == 0
    client = imap(dovecot, imap_user)
    client.append("INBOX", message("Jo <jo@example.net>", "Complaint about The Sun",
                                   COMPLAINT + f"\nSecret detail: {BODY_MARK}\n"))
    client.logout()
    assert main(["--debug", "--config", str(cfg.path), "poll", "--once"]) == 0
    out, err = capfd.readouterr()
    assert "INFO triage.pipeline" in err  # the service's own logging really was on
    assert BODY_MARK not in out + err and PASSWORD not in out + err
    db = store.Store(cfg.database_url)
    with db.engine.connect() as conn:
        for table in ("messages", "events", "cases", "mailboxes", "corrections"):
            dump = " ".join(str(row) for row in conn.execute(text(f"SELECT * FROM {table}")))
            assert PASSWORD not in dump.replace(PASSWORD + "s", "")
            assert BODY_MARK not in dump
    db.dispose()


def test_purge_forgets_personal_data_of_long_closed_cases(make_config, database_url, imap_user, dovecot,
                                                          capsys):
    from triage.cli import main
    from triage.reports import stats

    cfg = make_config(database_url, imap_user)
    assert main(["--config", str(cfg.path), "init"]) == 0
    client = imap(dovecot, imap_user)
    for who in ("Ann Old <ann@example.net>", "Bob Recent <bob@example.net>"):
        client.append("INBOX", message(who, "Complaint about Daily Mail article", COMPLAINT.replace(
            "Margaret Hollis", who.split(" <")[0])))
    client.logout()
    assert main(["--config", str(cfg.path), "poll", "--once"]) == 0
    yy = f"{datetime.now(UTC).year % 100:02d}"
    long_ago = (datetime.now(UTC) - timedelta(days=400)).isoformat()
    assert main(["--config", str(cfg.path), "case", "stage", f"00001-{yy}", "closed", "--at", long_ago]) == 0
    assert main(["--config", str(cfg.path), "case", "stage", f"00002-{yy}", "closed"]) == 0
    db = store.Store(cfg.database_url)
    with db.transaction() as s:
        before = stats(s)
    capsys.readouterr()
    assert main(["--config", str(cfg.path), "purge", "--older-than", "365", "--dry-run"]) == 0
    assert "would purge personal data of 1 closed case(s) and 1 message(s)" in capsys.readouterr().out
    assert main(["--config", str(cfg.path), "purge", "--older-than", "365", "--actor", "dpo"]) == 0
    with db.transaction() as s:
        after = stats(s)
        old = store.case_by_reference(s, f"00001-{yy}")
        recent = store.case_by_reference(s, f"00002-{yy}")
        assert old.anonymised and old.complainant_email == "[purged]" and recent.complainant_email == "bob@example.net"
        purged_msg = old.messages[0]
        assert s.get(store.RawMessage, purged_msg.id) is None
        assert purged_msg.from_addr == "[purged]" and purged_msg.category == "new_complaint"
        assert all(d.raw == b"" and d.to_addr == "[purged]" for d in purged_msg.drafts)
        assert s.get(store.RawMessage, recent.messages[0].id) is not None
        dump = " ".join(f"{e.reason} {e.old} {e.new}" for e in s.scalars(store.select(store.Event)))
        assert "ann@example.net" not in dump and "Ann Old" not in dump
        assert store.count(s, store.Event, store.Event.kind == "purged", store.Event.actor == "dpo") == 1
    db.dispose()
    assert after == before  # the counts stay true
