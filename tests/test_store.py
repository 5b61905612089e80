"""The database: migrations, unique references across processes, the mailbox lock."""

from __future__ import annotations

import multiprocessing as mp

import pytest
from sqlalchemy import inspect

from triage import store
from triage.errors import StoreError
from triage.store import MailboxLock, Store


def test_upgrade_creates_schema_and_is_repeatable(database_url):
    db = Store(database_url)
    with pytest.raises(StoreError, match="run 'triage init'"):
        db.check_schema()
    rev = db.upgrade()
    assert db.upgrade() == rev
    db.check_schema()
    tables = set(inspect(db.engine).get_table_names())
    assert {"messages", "raw_messages", "cases", "drafts", "events", "corrections", "deadlines",
            "publications", "mailboxes", "digests", "reference_counters"} <= tables
    db.dispose()


def test_a_missing_sqlite_folder_is_reported_as_no_database(tmp_path):
    db = Store(f"sqlite:///{tmp_path}/not-yet/triage.db")
    with pytest.raises(StoreError, match=r"no database at .*not-yet/triage.db: run 'triage init'"):
        db.check_schema()
    db.upgrade()
    db.check_schema()
    db.dispose()


def _allocate(url: str, n: int, queue) -> None:
    db = Store(url)
    got = []
    for _ in range(n):
        with db.transaction() as s:
            got.append(store.next_reference_number(s, 26))
    db.dispose()
    queue.put(got)


def test_reference_numbers_are_unique_across_processes(database_url):
    Store(database_url).upgrade()
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    procs = [ctx.Process(target=_allocate, args=(database_url, 40, queue)) for _ in range(4)]
    for p in procs:
        p.start()
    numbers = [n for _ in procs for n in queue.get(timeout=120)]
    for p in procs:
        p.join(60)
    assert sorted(numbers) == list(range(1, 161))


def test_mailbox_lock_is_exclusive_and_released(database_url):
    db = Store(database_url)
    db.upgrade()
    other = Store(database_url)
    a, b = MailboxLock(db, "box"), MailboxLock(other, "box")
    assert a.acquire() and a.held()
    assert not b.acquire()
    assert MailboxLock(other, "another box").acquire()
    a.release()
    assert b.acquire()
    b.release()
    db.dispose()
    other.dispose()


def test_unreachable_database_is_a_clear_error():
    db = Store("postgresql://postgres@127.0.0.1:1/nothing")
    with pytest.raises(StoreError, match="database unavailable"):
        db.check_schema()


def test_existing_database_survives_an_upgrade(database_url):
    """A database created by the first release, with data in it, upgraded by `triage init`."""
    from alembic import command
    from alembic.config import Config as AlembicConfig
    from sqlalchemy import text

    db = Store(database_url)
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(store.MIGRATIONS))
    cfg.attributes["engine"] = db.engine
    command.upgrade(cfg, "0001")
    with db.engine.begin() as conn:
        conn.execute(text("INSERT INTO cases (reference, stage, complainant_name, complainant_email, article, "
                          "subject, opened_at, stage_changed_at, anonymised) VALUES ('00001-26', 'referred', "
                          "'Ann', 'ann@example.net', '', 's', '2026-01-02 10:00:00', '2026-01-03 10:00:00', false)"))
    with pytest.raises(StoreError, match="schema is at 0001"):
        db.check_schema()
    assert db.upgrade() == "0002"
    db.check_schema()
    with db.transaction() as s:
        case = store.case_by_reference(s, "00001-26")
        assert (case.stage, case.complainant_email) == ("referred", "ann@example.net")
    assert "ix_messages_internal_date" in {i["name"] for i in inspect(db.engine).get_indexes("messages")}
    db.dispose()
