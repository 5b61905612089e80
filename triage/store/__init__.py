"""The database: the only package that talks SQL.

The caller owns the transaction (``with store.transaction() as s:``) and passes
the session to the functions here and to the stations. Database errors are
translated into :class:`StoreError` at this boundary.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import logging
import tempfile
import zlib
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError, IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session, selectinload

from triage.errors import StoreError
from triage.store.models import (
    Base,
    Case,
    Correction,
    Deadline,
    DigestRun,
    Draft,
    Event,
    Mailbox,
    Message,
    Publication,
    RawMessage,
    ReferenceCounter,
    utcnow,
)

__all__ = [
    "Base", "Case", "Correction", "Deadline", "DigestRun", "Draft", "Event", "IntegrityError",
    "Mailbox", "MailboxLock", "Message", "Publication", "RawMessage", "Session", "Store", "func",
    "select", "utcnow",
]

log = logging.getLogger(__name__)
MIGRATIONS = Path(__file__).parent / "migrations"


class Store:
    """An engine plus the transactions, migrations and health checks around it."""

    def __init__(self, url: str) -> None:
        self.url = url
        try:
            self.engine: Engine = _engine(url)
        except (SQLAlchemyError, ImportError, ValueError) as exc:
            raise StoreError(f"database.url: cannot use {_redact(url)}: {exc}") from None

    @property
    def _sqlite_file(self) -> Path | None:
        """The file of an SQLite database, None for any other database."""
        return Path(self.url[len("sqlite:///"):]) if self.url.startswith("sqlite:///") else None

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A session in one transaction: committed on success, rolled back on error."""
        try:
            with Session(self.engine, expire_on_commit=False) as session, session.begin():
                yield session
        except IntegrityError:
            raise
        except DBAPIError as exc:
            raise StoreError(f"database error: {_one_line(exc)}") from exc

    def upgrade(self) -> str:
        """Create or upgrade the schema to the newest migration; returns its revision."""
        from alembic import command
        from alembic.config import Config as AlembicConfig

        if self._sqlite_file is not None:
            self._sqlite_file.parent.mkdir(parents=True, exist_ok=True)
        cfg = AlembicConfig()
        cfg.set_main_option("script_location", str(MIGRATIONS))
        cfg.attributes["engine"] = self.engine
        try:
            command.upgrade(cfg, "head")
        except DBAPIError as exc:
            raise StoreError(f"database error during upgrade: {_one_line(exc)}") from exc
        return self.revision() or "?"

    def revision(self) -> str | None:
        from alembic.runtime.migration import MigrationContext

        with self.engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()

    def check_schema(self) -> None:
        """Raise StoreError when the database has not been initialised or is outdated."""
        from alembic.script import ScriptDirectory

        if self._sqlite_file is not None and not self._sqlite_file.parent.is_dir():
            raise StoreError(f"no database at {self._sqlite_file}: run 'triage init'")
        try:
            current = self.revision()
        except DBAPIError as exc:
            raise StoreError(f"database unavailable: {_one_line(exc)}") from exc
        head = ScriptDirectory(str(MIGRATIONS)).get_current_head()
        if current != head:
            raise StoreError(
                f"database schema is at {current or 'nothing'}, this version needs {head}: "
                "run 'triage init'"
            )

    def lock_path(self, name: str) -> Path:
        """Where the SQLite lock file for mailbox ``name`` lives (beside the database)."""
        digest = hashlib.sha256(name.encode()).hexdigest()[:12]
        db = self.url[len("sqlite:///"):] if self.url.startswith("sqlite:///") else ""
        base = Path(db) if db and db != ":memory:" else Path(tempfile.gettempdir()) / "triage"
        return base.with_name(f"{base.name}.{digest}.lock")

    def dispose(self) -> None:
        self.engine.dispose()


def _engine(url: str) -> Engine:
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 60})
        event.listen(engine, "connect", _sqlite_pragmas)
        # SQLite's driver opens transactions lazily; begin explicitly so that
        # a writer takes the lock up front instead of failing on upgrade.
        event.listen(engine, "begin", lambda conn: conn.exec_driver_sql("BEGIN IMMEDIATE"))
        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=2, max_overflow=2)


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=60000")
    cur.close()


def _redact(url: str) -> str:
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        return f"{scheme}://***@{rest.rsplit('@', 1)[1]}"
    return url


def _one_line(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None) or exc
    return str(orig).strip().splitlines()[0][:300] if str(orig).strip() else type(orig).__name__


# ---------------------------------------------------------------- mailboxes


def mailbox(s: Session, name: str) -> Mailbox:
    """The checkpoint row for folder ``name``, created on first use."""
    row = s.scalar(select(Mailbox).where(Mailbox.name == name))
    if row is None:
        row = Mailbox(name=name, last_uid=0)
        s.add(row)
        try:
            with s.begin_nested():
                s.flush()
        except IntegrityError:
            row = s.scalars(select(Mailbox).where(Mailbox.name == name)).one()
    return row


class MailboxLock:
    """One instance at a time per mailbox, coordinated through the database.

    PostgreSQL: a session-level advisory lock, held by a dedicated connection
    and released by the server the moment the holder's connection dies (no
    expiry to wait for after a crash). SQLite: an exclusive ``flock`` on a
    file beside the database, released by the kernel when the process dies.
    """

    def __init__(self, store: Store, name: str) -> None:
        self.store, self.name = store, name
        self.key = int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)
        self._conn: Any = None
        self._fh: Any = None

    def acquire(self) -> bool:
        """Take the lock without waiting; True when this instance holds it."""
        if self.held():
            return True
        try:
            if self.store.engine.dialect.name == "postgresql":
                return self._acquire_pg()
            return self._acquire_file()
        except SQLAlchemyError as exc:
            self.release()
            raise StoreError(f"database unavailable: {_one_line(exc)}") from exc

    def _acquire_pg(self) -> bool:
        conn = self.store.engine.connect()
        got = bool(conn.exec_driver_sql(f"SELECT pg_try_advisory_lock({self.key})").scalar())
        conn.commit()
        if got:
            self._conn = conn
        else:
            conn.close()
        return got

    def _acquire_file(self) -> bool:
        path = self.store.lock_path(self.name)
        fh = open(path, "a+")  # noqa: SIM115 - held for the life of the lock
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            fh.close()
            return False
        self._fh = fh
        return True

    def held(self) -> bool:
        """True while the lock is still ours (for PostgreSQL: its connection is alive)."""
        if self._fh is not None:
            return True
        if self._conn is None:
            return False
        try:
            self._conn.exec_driver_sql("SELECT 1")
            self._conn.commit()
            return True
        except SQLAlchemyError:  # the server or the connection went away: so did the lock
            self.release()
            return False

    def release(self) -> None:
        if self._conn is not None:
            conn, self._conn = self._conn, None
            try:
                conn.exec_driver_sql(f"SELECT pg_advisory_unlock({self.key})")
                conn.commit()
                conn.close()
            except SQLAlchemyError:  # a dead connection: the server already freed the lock
                with contextlib.suppress(SQLAlchemyError):
                    conn.invalidate()
                    conn.close()
        if self._fh is not None:
            fcntl.flock(self._fh, fcntl.LOCK_UN)
            self._fh.close()
            self._fh = None


# ---------------------------------------------------------------- messages


def compress(raw: bytes) -> bytes:
    return zlib.compress(raw, 6)


def raw_bytes(s: Session, message_pk: int) -> bytes:
    row = s.get(RawMessage, message_pk)
    if row is None:
        raise StoreError(f"message {message_pk}: raw bytes missing")
    return zlib.decompress(row.data)


def message_at(s: Session, folder: str, uidvalidity: int, uid: int) -> Message | None:
    return s.scalar(select(Message).where(Message.folder == folder,
                                          Message.uidvalidity == uidvalidity, Message.uid == uid))


def same_message(s: Session, sha256: str) -> Message | None:
    """The first recorded message with exactly these bytes (SHA-256 of the raw message)."""
    return s.scalars(select(Message).where(Message.sha256 == sha256).order_by(Message.id).limit(1)).first()


def pending_messages(s: Session, limit: int) -> Sequence[Message]:
    """Recorded messages whose processing is not finished, oldest first."""
    return s.scalars(
        select(Message)
        .where(Message.state.in_(("received", "processed", "drafted", "failed")))
        .order_by(Message.id).limit(limit)
    ).all()


def messages_by_ids(s: Session, ids: Sequence[int]) -> Sequence[Message]:
    """Messages with these primary keys (with case and draft loaded), in id order."""
    if not ids:
        return []
    return s.scalars(select(Message).where(Message.id.in_(list(ids)))
                     .options(selectinload(Message.case), selectinload(Message.drafts))
                     .order_by(Message.id)).all()


def messages_by_message_ids(s: Session, ids: Iterable[str]) -> Sequence[Message]:
    ids = [i for i in ids if i][:100]
    if not ids:
        return []
    return s.scalars(select(Message).where(Message.message_id.in_(ids))).all()


def drafts_by_message_ids(s: Session, ids: Iterable[str]) -> Sequence[Draft]:
    ids = [i for i in ids if i][:100]
    if not ids:
        return []
    return s.scalars(select(Draft).where(Draft.message_id.in_(ids))).all()


def unsent_drafts_for(s: Session, ids: Sequence[str]) -> Sequence[Draft]:
    """Appended drafts not yet seen as sent, whose own Message-ID or whose original
    message's Message-ID is among ``ids``."""
    ids = [i for i in ids if i][:100]
    if not ids:
        return []
    return s.scalars(select(Draft).join(Message, Draft.message_pk == Message.id).where(
        Draft.state == "appended", Draft.sent_seen_at.is_(None),
        Draft.message_id.in_(ids) | Message.message_id.in_(ids))).all()


def drafts_to_since(s: Session, address: str, since: datetime) -> int:
    return int(s.scalar(select(func.count(Draft.id)).where(
        Draft.to_addr == address, Draft.created_at >= since, Draft.state != "suppressed")) or 0)


def add_event(s: Session, kind: str, reason: str = "", *, case: Case | None = None,
              message: Message | None = None, actor: str = "service",
              old: str | None = None, new: str | None = None) -> Event:
    ev = Event(kind=kind, reason=reason[:4000], case_id=case.id if case else None,
               message_pk=message.id if message else None, actor=actor,
               old=(old or None) and old[:500], new=(new or None) and new[:500], at=utcnow())
    s.add(ev)
    return ev


# ---------------------------------------------------------------- cases


def next_reference_number(s: Session, year: int) -> int:
    """Atomically take the next case number of ``year`` (safe across processes)."""
    dialect = s.get_bind().dialect.name
    ins = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(ReferenceCounter)
    stmt = ins.values(year=year, last=1).on_conflict_do_update(
        index_elements=["year"], set_={"last": ReferenceCounter.last + 1}
    ).returning(ReferenceCounter.last)
    return int(s.execute(stmt).scalar_one())


def case_by_reference(s: Session, reference: str) -> Case | None:
    return s.scalar(select(Case).where(Case.reference == reference))


def cases_by_ids(s: Session, ids: Iterable[int]) -> Sequence[Case]:
    ids = list(set(ids))
    return s.scalars(select(Case).where(Case.id.in_(ids))).all() if ids else []


def open_cases_for(s: Session, address: str) -> Sequence[Case]:
    return s.scalars(select(Case).where(Case.complainant_email == address,
                                        Case.closed_at.is_(None), Case.merged_into_id.is_(None))
                     .order_by(Case.id)).all()


def open_cases_for_publication(s: Session, publication_id: int) -> Sequence[Case]:
    return s.scalars(select(Case).where(Case.publication_id == publication_id,
                                        Case.closed_at.is_(None), Case.merged_into_id.is_(None))
                     .order_by(Case.id)).all()


def cases_with_article(s: Session, article: str) -> Sequence[Case]:
    return s.scalars(select(Case).where(Case.article == article).order_by(Case.id)).all()


def all_cases(s: Session) -> Sequence[Case]:
    return s.scalars(select(Case).options(selectinload(Case.publication)).order_by(Case.id)).all()


def case_detail(s: Session, reference: str) -> Case | None:
    return s.scalar(select(Case).where(Case.reference == reference).options(
        selectinload(Case.messages).selectinload(Message.drafts), selectinload(Case.deadlines),
        selectinload(Case.publication)))


def case_events(s: Session, case_id: int) -> Sequence[Event]:
    return s.scalars(select(Event).where(Event.case_id == case_id).order_by(Event.id)).all()


# ---------------------------------------------------------------- publications


def publications(s: Session) -> Sequence[Publication]:
    return s.scalars(select(Publication).order_by(Publication.name)).all()


def publication_by_name(s: Session, name: str) -> Publication | None:
    return s.scalar(select(Publication).where(Publication.name == name))


# ---------------------------------------------------------------- deadlines


def open_deadlines(s: Session, until: date | None = None) -> Sequence[Deadline]:
    q = select(Deadline).where(Deadline.status == "open").options(selectinload(Deadline.case))
    if until is not None:
        q = q.where(Deadline.due <= until)
    return s.scalars(q.order_by(Deadline.due, Deadline.id)).all()


# ---------------------------------------------------------------- corrections


def correction_for(s: Session, folder_uid: str) -> Correction | None:
    return s.scalar(select(Correction).where(Correction.folder_uid == folder_uid))


def latest_corrections(s: Session) -> Sequence[Correction]:
    """The newest correction of each corrected message."""
    newest = select(func.max(Correction.id)).group_by(Correction.message_pk)
    return s.scalars(select(Correction).where(Correction.id.in_(newest)).order_by(Correction.id)).all()


def corrections_between(s: Session, start: datetime, end: datetime) -> Sequence[Correction]:
    return s.scalars(select(Correction).where(Correction.at >= start, Correction.at < end)).all()


# ---------------------------------------------------------------- figures


def count_by(s: Session, column: Any, *where: Any) -> dict[Any, int]:
    rows = s.execute(select(column, func.count()).where(*where).group_by(column)).all()
    return {k: int(n) for k, n in rows}


def count(s: Session, model: type[Base], *where: Any) -> int:
    return int(s.scalar(select(func.count()).select_from(model).where(*where)) or 0)
