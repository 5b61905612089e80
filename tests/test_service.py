"""`triage run`: new mail picked up through IMAP IDLE, IDLE re-issued, clean shutdown."""

from __future__ import annotations

import logging
import signal
import subprocess
import sys
import time

from tests.conftest import folder_messages, imap
from tests.mail import COMPLAINT, message
from triage.cli import main
from triage.errors import MailboxError, StoreError
from triage.service import Backoff


def test_idle_picks_up_new_mail_in_seconds_and_sigterm_stops_cleanly(make_config, imap_user, dovecot,
                                                                        tmp_path):
    cfg = make_config(f"sqlite:///{tmp_path / 't.db'}", imap_user)
    # Poll only once an hour and re-issue IDLE every 2 seconds: only IDLE can explain a fast pick-up.
    text = cfg.path.read_text().replace("interval_seconds = 1", "interval_seconds = 3600\nidle_seconds = 2")
    cfg.path.write_text(text)
    assert main(["--config", str(cfg.path), "init"]) == 0
    log = tmp_path / "run.log"
    proc = subprocess.Popen([sys.executable, "-m", "triage.cli", "--config", str(cfg.path), "run"],
                            stdout=subprocess.DEVNULL, stderr=log.open("w"))
    try:
        client = imap(dovecot, imap_user)
        time.sleep(7)  # start-up, the first cycle, then IDLE re-issued a few times
        client.append("INBOX", message("Jo <jo@example.net>", "Complaint about Daily Mail article", COMPLAINT))
        started = time.monotonic()
        while not folder_messages(client, "Drafts"):
            assert time.monotonic() - started < 10, log.read_text()
            time.sleep(0.1)
        print(f"\nnew mail to draft through IDLE: {time.monotonic() - started:.2f} s")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0
        assert folder_messages(client, "INBOX") == {}
        client.logout()
    finally:
        if proc.poll() is None:
            proc.kill()
    text = log.read_text()
    assert "received SIGTERM" in text and "triage service stopped" in text
    assert "Traceback" not in text and " ERROR " not in text


def test_backoff_logs_an_outage_once_and_its_recovery(caplog):
    caplog.set_level(logging.DEBUG, logger="triage.service")
    seen: list[str] = []
    b = Backoff(cap=8, on_outage=seen.append)
    delays = [b.failed(MailboxError(f"IMAP fetch failed: attempt {i}")) for i in range(6)]
    assert delays == [1, 2, 4, 8, 8, 8]
    b.failed(StoreError("database unavailable"))
    b.succeeded()
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 2 and "attempt 0" in errors[0] and "database" in errors[1]
    assert seen == ["IMAP fetch failed: attempt 0", "database unavailable"]
    assert any("recovered after 7 failed attempt(s)" in r.getMessage() for r in caplog.records)
    b.succeeded()
    assert sum("recovered" in r.getMessage() for r in caplog.records) == 1
