"""Faults a real deployment meets, against the real Dovecot and databases: the process
killed at random, the IMAP server restarting, the database going away, UIDVALIDITY
changing, poison messages, a full disk, a missing Drafts folder and two instances
at once. After each, every message is recorded exactly once with its raw bytes."""

from __future__ import annotations

import email
import os
import random
import shutil
import signal
import subprocess
import sys
import time
import zlib
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select

from tests.conftest import ROOT, folder_messages, imap
from tests.mail import COMPLAINT, message
from triage import store
from triage.cli import main
from triage.localserver import free_port

EVAL = sorted((ROOT / "eval_data").glob("*/*.eml"))


def triage_cmd(cfg, *args: str) -> list[str]:
    return [sys.executable, "-m", "triage.cli", "--config", str(cfg.path), *args]


def fill(client, n: int) -> dict[int, bytes]:
    """APPEND ``n`` realistic messages (the hold-out set, cycled with fresh Message-IDs)."""
    for i in range(n):
        raw = EVAL[i % len(EVAL)].read_bytes()
        if i >= len(EVAL):
            raw = raw.replace(b"Message-ID: <", f"Message-ID: <r{i}.".encode(), 1)
        client.append("INBOX", raw)
    return folder_messages(client, "INBOX")


def assert_exactly_once(cfg, client, originals: dict[int, bytes]) -> None:
    """Every original message recorded once with its bytes, filed, one case per
    reference, and each planned draft in Drafts exactly once."""
    db = store.Store(cfg.database_url)
    with db.transaction() as s:
        records = s.scalars(select(store.Message)).all()
        by_sha = Counter(r.sha256 for r in records)
        assert len(records) == len(originals)
        assert sorted(by_sha.values()) == [1] * len(records)
        raws = sorted(zlib.decompress(s.get(store.RawMessage, r.id).data) for r in records)
        assert raws == sorted(originals.values())
        assert {r.state for r in records} <= {"done", "quarantined"}, Counter(r.state for r in records)
        refs = [c.reference for c in s.scalars(select(store.Case))]
        assert len(refs) == len(set(refs))
        drafts = s.scalars(select(store.Draft)).all()
        assert all(d.state == "appended" for d in drafts)
        classified = s.execute(select(store.Event.message_pk, func.count()).where(
            store.Event.kind == "classified").group_by(store.Event.message_pk)).all()
        assert all(n == 1 for _, n in classified), "a message was processed twice"
        draft_ids = Counter(d.message_id for d in drafts)
    db.dispose()
    in_drafts = Counter(" ".join(email.message_from_bytes(raw)["Message-ID"].split())
                        for raw in folder_messages(client, "Drafts").values())
    assert in_drafts == draft_ids
    assert folder_messages(client, "INBOX") == {}


@pytest.fixture
def setup(make_config, database_url, imap_user, dovecot):
    def make(**kw):
        cfg = make_config(database_url, imap_user, **kw)
        assert main(["--config", str(cfg.path), "init"]) == 0
        return cfg, imap(dovecot, imap_user)
    return make


def events_so_far(engine) -> int:
    """How much work has been committed: grows with every step of every message.
    (A plain engine: reading here must not take SQLite's write lock from the process.)"""
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(store.Event)).scalar())


@pytest.mark.slow
def test_sigkill_at_random_points_then_restart(setup):
    cfg, client = setup(batch_size=5, max_drafts=1000)
    # Each round starts a process (imports and the model: about 3 s here), so the
    # inbox is sized for a few dozen rounds with a kill in most of them.
    originals = fill(client, 120)
    rnd = random.Random(20261123)
    db = create_engine(cfg.database_url.replace("postgresql://", "postgresql+psycopg://"))
    kills = 0
    for _ in range(60):
        before = events_so_far(db)
        proc = subprocess.Popen(triage_cmd(cfg, "poll", "--once"), stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE)
        # Wait until it has started committing work, then kill it at a random moment after.
        deadline = time.monotonic() + 30
        while proc.poll() is None and events_so_far(db) <= before and time.monotonic() < deadline:
            time.sleep(0.02)
        try:
            proc.wait(timeout=rnd.uniform(0.05, 0.5))
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            kills += 1
            continue
        assert proc.returncode == 0, proc.stderr.read().decode()[-2000:]
        if not folder_messages(client, "INBOX"):
            break
    db.dispose()
    assert kills >= 3, "the process was never killed mid-cycle"
    assert subprocess.run(triage_cmd(cfg, "poll", "--once"), capture_output=True).returncode == 0
    assert_exactly_once(cfg, client, originals)
    client.logout()


SERVICES: list[subprocess.Popen] = []


@pytest.fixture(autouse=True)
def no_stray_services():
    """Kill any `triage run` a failed test left behind."""
    yield
    while SERVICES:
        proc = SERVICES.pop()
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def run_service(cfg, log: Path) -> subprocess.Popen:
    proc = subprocess.Popen(triage_cmd(cfg, "run"), stdout=subprocess.DEVNULL, stderr=log.open("w"))
    SERVICES.append(proc)
    return proc


def wait_until(check, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.25)
    raise AssertionError("timed out waiting")


def stop(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 0


@pytest.mark.slow
def test_imap_server_restarts_mid_cycle(setup, dovecot, imap_user, tmp_path):
    cfg, client = setup(batch_size=5, max_drafts=1000)
    originals = fill(client, 120)
    client.logout()
    log = tmp_path / "service.log"
    proc = run_service(cfg, log)
    time.sleep(2.5)  # let it start on the backlog, then pull the server away twice
    dovecot.restart()
    time.sleep(1.0)
    dovecot.stop()
    time.sleep(3)
    dovecot.start()
    client = imap(dovecot, imap_user)
    wait_until(lambda: folder_messages(client, "INBOX") == {}, 120)
    stop(proc)
    text = log.read_text()
    assert "Traceback" not in text
    errors = [line for line in text.splitlines() if " ERROR " in line]
    assert 1 <= len(errors) <= 3, errors  # the outage is reported, not once per retry
    assert "recovered after" in text
    assert_exactly_once(cfg, client, originals)
    client.logout()


class PrivatePostgres:
    """A PostgreSQL server of our own (so it can be stopped) on a free port."""

    def __init__(self) -> None:
        import pwd
        import tempfile

        self.bin = sorted(Path("/usr/lib/postgresql").glob("*/bin"))[-1]
        root = Path(tempfile.mkdtemp(prefix="triage-pg-"))
        pg = pwd.getpwnam("postgres")
        os.chown(root, pg.pw_uid, pg.pw_gid)
        self.root, self.data, self.port = root, root / "pgdata", free_port()
        self._as_postgres(str(self.bin / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres")

    def _as_postgres(self, *cmd: str) -> None:
        subprocess.run(["runuser", "-u", "postgres", "--", *cmd], check=True, capture_output=True)

    def start(self) -> None:
        self._as_postgres(str(self.bin / "pg_ctl"), "-D", str(self.data), "-w", "-l",
                          str(self.data.parent / "pg.log"), "-o", f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1",
                          "start")

    def stop(self) -> None:
        self._as_postgres(str(self.bin / "pg_ctl"), "-D", str(self.data), "-w", "-m", "fast", "stop")

    def cleanup(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"


@pytest.mark.slow
def test_database_unavailable_for_a_while(make_config, imap_user, dovecot, tmp_path):
    pg = PrivatePostgres()
    pg.start()
    try:
        cfg = make_config(pg.url, imap_user, batch_size=5)
        assert main(["--config", str(cfg.path), "init"]) == 0
        client = imap(dovecot, imap_user)
        log = tmp_path / "service.log"
        proc = run_service(cfg, log)
        fill(client, 10)
        wait_until(lambda: folder_messages(client, "INBOX") == {})
        drafts_before = len(folder_messages(client, "Drafts"))
        pg.stop()
        for i in range(15):
            client.append("INBOX", message(f"Person {i} <p{i}@example.net>", f"Complaint {i} about The Sun",
                                           COMPLAINT.replace("Margaret Hollis", f"Person {i}")))
        time.sleep(6)  # the service keeps trying while the database is down
        assert len(folder_messages(client, "INBOX")) == 15  # nothing filed...
        assert len(folder_messages(client, "Drafts")) == drafts_before  # ...nor drafted
        pg.start()
        wait_until(lambda: folder_messages(client, "INBOX") == {}, 120)
        stop(proc)
        text = log.read_text()
        assert "Traceback" not in text and "recovered after" in text
        assert len([x for x in text.splitlines() if " ERROR " in x]) <= 3
        db = store.Store(cfg.database_url)
        with db.transaction() as s:
            assert store.count(s, store.Message) == 25
            assert store.count(s, store.Message, store.Message.state == "done") == 25
        db.dispose()
        client.logout()
    finally:
        pg.cleanup()


def test_uidvalidity_change_loses_and_repeats_nothing(setup, dovecot, imap_user, capsys):
    cfg, client = setup(mode="keywords")
    for i in range(6):
        client.append("INBOX", message(f"P{i} <p{i}@example.net>", f"Complaint {i} about The Sun",
                                       COMPLAINT.replace("Margaret Hollis", f"Person {i}")))
    assert main(["--config", str(cfg.path), "poll", "--once"]) == 0
    before = folder_messages(client, "INBOX")
    client.logout()
    # The server forgets its UIDs (as after a mailbox rebuild or migration): new UIDVALIDITY.
    maildir = dovecot.root / "mail" / imap_user
    dovecot.stop()
    for name in ("dovecot-uidlist", "dovecot.index", "dovecot.index.cache", "dovecot.index.log"):
        (maildir / name).unlink(missing_ok=True)
    dovecot.start()
    client = imap(dovecot, imap_user)
    client.append("INBOX", message("New <new@example.net>", "Complaint about the Daily Mirror", COMPLAINT))
    capsys.readouterr()
    assert main(["--config", str(cfg.path), "poll", "--once"]) == 0
    out = capsys.readouterr().out
    assert "1 new message(s) recorded" in out and "6 duplicate(s)" in out
    db = store.Store(cfg.database_url)
    with db.transaction() as s:
        assert store.count(s, store.Message) == 7
        assert store.count(s, store.Case) == 7
        assert store.count(s, store.Draft) == 7
        assert store.count(s, store.Event, store.Event.kind == "uidvalidity_changed") == 1
    db.dispose()
    assert len(folder_messages(client, "INBOX")) == len(before) + 1
    assert len(folder_messages(client, "Drafts")) == 7
    client.logout()


def test_poison_message_is_quarantined_without_blocking_others(setup, tmp_path, capsys):
    templates = tmp_path / "templates"
    shutil.copytree(ROOT / "templates", templates)
    # An admin's edit breaks the out-of-remit template: every out-of-remit message now fails.
    (templates / "drafts" / "out_of_remit.txt.j2").write_text("{{ no_such_variable.attribute }}")
    cfg, client = setup(templates=templates, max_attempts=2)
    client.append("INBOX", message("Viewer <viewer@example.net>", "Complaint about BBC Newsnight",
                                   "I want to complain about last night's BBC Newsnight programme on "
                                   "television. The presenter was rude and biased. Please take it up with the BBC."))
    for i in range(3):
        client.append("INBOX", message(f"P{i} <p{i}@example.net>", "Complaint about Daily Mail article",
                                       COMPLAINT.replace("Margaret Hollis", f"Person {i}")))
    for _ in range(2):
        capsys.readouterr()
        assert main(["--config", str(cfg.path), "poll", "--once"]) == 0
    out = capsys.readouterr().out
    assert "ERROR TemplateError" in out or "ERROR ConfigError" in out or "ERROR UndefinedError" in out, out
    assert len(folder_messages(client, "Triage/Quarantine")) == 1
    assert len(folder_messages(client, "Triage/New complaint")) == 3
    assert folder_messages(client, "INBOX") == {}
    db = store.Store(cfg.database_url)
    with db.transaction() as s:
        bad = s.scalars(select(store.Message).where(store.Message.state == "quarantined")).one()
        assert bad.attempts == 2 and "out_of_remit.txt.j2" in bad.error
        assert store.count(s, store.Event, store.Event.kind == "processing_failed") == 2
    db.dispose()
    client.logout()


def test_missing_drafts_folder_is_a_clear_error_and_nothing_is_half_done(setup, capsys):
    cfg, client = setup()
    client.delete_folder("Drafts")
    client.append("INBOX", message("A <a@example.net>", "Complaint about Daily Mail article", COMPLAINT))
    capsys.readouterr()
    assert main(["--config", str(cfg.path), "poll", "--once"]) == 1
    err = capsys.readouterr().err
    assert err.strip() == ("triage: error: mailbox folder(s) missing: Drafts; run 'triage init' to create "
                           "them (or correct [imap]/[folders] in the configuration)")
    assert len(folder_messages(client, "INBOX")) == 1
    db = store.Store(cfg.database_url)
    with db.transaction() as s:
        assert store.count(s, store.Message) == 0
    db.dispose()
    assert main(["--config", str(cfg.path), "init"]) == 0
    assert main(["--config", str(cfg.path), "poll", "--once"]) == 0
    assert folder_messages(client, "INBOX") == {} and len(folder_messages(client, "Drafts")) == 1
    client.logout()


def test_disk_full_is_a_clear_error_and_nothing_is_half_done(make_config, imap_user, dovecot, tmp_path, capsys):
    disk = tmp_path / "small"
    disk.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=400k", "tmpfs", str(disk)], check=True)
    try:
        cfg = make_config(f"sqlite:///{disk / 'triage.db'}", imap_user)
        assert main(["--config", str(cfg.path), "init"]) == 0
        client = imap(dovecot, imap_user)
        big = message("A <a@example.net>", "Complaint about Daily Mail article", COMPLAINT,
                      attachments=[("evidence.bin", os.urandom(600_000))])
        client.append("INBOX", big)
        capsys.readouterr()
        assert main(["--config", str(cfg.path), "poll", "--once"]) == 1
        err = capsys.readouterr().err.strip().splitlines()[-1]
        assert err == "triage: error: database error: database or disk is full"
        assert len(folder_messages(client, "INBOX")) == 1
        assert folder_messages(client, "Drafts") == {}
        client.logout()
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)


@pytest.mark.slow
def test_two_instances_never_process_a_message_twice(make_config, pg_url, imap_user, dovecot, tmp_path):
    cfg = make_config(pg_url, imap_user, batch_size=10, max_drafts=1000)
    assert main(["--config", str(cfg.path), "init"]) == 0
    client = imap(dovecot, imap_user)
    originals = fill(client, 300)
    procs = [run_service(cfg, tmp_path / f"service{i}.log") for i in range(2)]
    time.sleep(4)
    procs[0].send_signal(signal.SIGKILL)  # the active one dies; the other must take over
    procs[0].wait()
    wait_until(lambda: folder_messages(client, "INBOX") == {}, 180)
    stop(procs[1])
    logs = [(tmp_path / f"service{i}.log").read_text() for i in range(2)]
    assert "Traceback" not in logs[1]
    assert_exactly_once(cfg, client, originals)
    client.logout()
