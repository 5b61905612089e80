"""Shared fixtures: a real Dovecot on loopback, real SQLite and PostgreSQL databases,
and a config that points triage at them.

PostgreSQL is expected at 127.0.0.1:5432 (trust auth, database ``test``, user
``postgres``), or wherever ``TRIAGE_TEST_PG`` points; ``.ci/run`` starts it.
Tests never skip when a service is missing: they fail, so CI cannot hide it.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from imapclient import IMAPClient
from sqlalchemy import create_engine, text

from triage.config import Config, load_config
from triage.localserver import PASSWORD, LocalDovecot

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT.parent / "shared" / "corpora" / "stalwart-eml"
PG_ADMIN = os.environ.get("TRIAGE_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


@pytest.fixture(scope="session")
def dovecot() -> Iterator[LocalDovecot]:
    server = LocalDovecot().start()
    yield server
    server.cleanup()


@pytest.fixture
def imap_user() -> str:
    return "u" + uuid.uuid4().hex[:10]


def _pg_database() -> Iterator[str]:
    name = "triage_t_" + uuid.uuid4().hex[:10]
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    base = PG_ADMIN.rsplit("/", 1)[0]
    try:
        yield f"{base}/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Each test using this runs twice: on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'triage.db'}"
    else:
        yield from _pg_database()


@pytest.fixture
def pg_url() -> Iterator[str]:
    yield from _pg_database()


CONFIG_TEMPLATE = """
[team]
name = "Complaints Team"
address = "complaints@example.org"
signature = "The Complaints Team"
never_reply = ["noreply@*", "*@never.example"]
max_drafts_per_address_per_day = {max_drafts}

[imap]
host = "127.0.0.1"
port = {port}
security = "none"
username = "{user}"
password_env = "TRIAGE_TEST_IMAP_PASSWORD"
timeout_seconds = 20

[folders]
mode = "{mode}"

[database]
url = "{db}"

[poll]
interval_seconds = 1
batch_size = {batch_size}
idle = true
max_attempts = {max_attempts}

[classifier]
model_dir = "{models}"

[publications]
file = "{root}/data/publications.csv"

[templates]
dir = "{templates}"

[digest]
enabled = {digest_enabled}
recipients = ["supervisor@example.org", "deputy@example.org"]
send_at = "07:30"
retries = 2
[digest.smtp]
host = "127.0.0.1"
port = {smtp_port}
security = "none"
"""


@pytest.fixture
def make_config(tmp_path: Path, dovecot: LocalDovecot, monkeypatch: pytest.MonkeyPatch):
    """Write a config.toml for a fresh mailbox and database and load it."""
    monkeypatch.setenv("TRIAGE_TEST_IMAP_PASSWORD", PASSWORD)

    def make(db: str, user: str, **kw: object) -> Config:
        values = {"port": dovecot.port, "user": user, "db": db, "mode": "move", "batch_size": 50,
                  "max_attempts": 3, "max_drafts": 3, "models": ROOT / "models", "root": ROOT,
                  "templates": ROOT / "templates", "digest_enabled": "false", "smtp_port": 2525}
        values.update(kw)
        path = tmp_path / f"config-{user}.toml"
        path.write_text(CONFIG_TEMPLATE.format(**values))
        return load_config(path)

    return make


def imap(dovecot: LocalDovecot, user: str) -> IMAPClient:
    client = IMAPClient(dovecot.host, port=dovecot.port, ssl=False, timeout=20)
    client.login(user, PASSWORD)
    return client


def server_folder(client: IMAPClient, name: str) -> str:
    """A config folder name ("Triage/New complaint") in the server's own delimiter."""
    delim = client.list_folders("", "")[0][1]
    delim = delim.decode() if isinstance(delim, bytes) else delim
    return name if name == "INBOX" else name.replace("/", delim)


def folder_messages(client: IMAPClient, name: str) -> dict[int, bytes]:
    """UID → raw bytes of every message in a folder (without touching \\Seen)."""
    folder = server_folder(client, name)
    if not client.folder_exists(folder):
        return {}
    client.select_folder(folder, readonly=True)
    uids = client.search(["ALL"])
    if not uids:
        return {}
    return {uid: data[b"BODY[]"] for uid, data in client.fetch(uids, ["BODY.PEEK[]"]).items()}


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    """A copy of the shipped models folder that a test may train into."""
    target = tmp_path / "models"
    shutil.copytree(ROOT / "models", target)
    return target
