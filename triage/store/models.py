"""SQLAlchemy 2.0 models: the schema of triage's database.

Changes to this file need an Alembic migration in ``migrations/versions`` so
that existing databases can be upgraded with ``triage init``.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite keeps no zone)."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return value.replace(tzinfo=UTC) if value is not None else None


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {dict[str, Any]: JSON, list[str]: JSON}


class Mailbox(Base):
    """One IMAP folder we read: its UIDVALIDITY and the last UID recorded."""

    __tablename__ = "mailboxes"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(400), unique=True)
    uidvalidity: Mapped[int | None] = mapped_column(BigInteger)
    last_uid: Mapped[int] = mapped_column(BigInteger, default=0)
    last_poll_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    inbox_count: Mapped[int | None] = mapped_column(Integer)


class Publication(Base):
    __tablename__ = "publications"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    aliases: Mapped[list[str]] = mapped_column(default=list)
    domains: Mapped[list[str]] = mapped_column(default=list)
    contact: Mapped[str] = mapped_column(String(320), default="")
    group_name: Mapped[str] = mapped_column(String(200), default="")


class Case(Base):
    __tablename__ = "cases"
    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(String(20), unique=True)
    stage: Mapped[str] = mapped_column(String(40), default="assessment")
    complainant_name: Mapped[str] = mapped_column(String(200), default="")
    complainant_email: Mapped[str] = mapped_column(String(320), default="", index=True)
    publication_id: Mapped[int | None] = mapped_column(ForeignKey("publications.id"))
    article: Mapped[str] = mapped_column(String(500), default="")
    subject: Mapped[str] = mapped_column(String(500), default="")
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    stage_changed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    referred_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decision_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decision_kind: Mapped[str | None] = mapped_column(String(20))
    related_to_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"))
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"))
    anonymised: Mapped[bool] = mapped_column(Boolean, default=False)

    publication: Mapped[Publication | None] = relationship()
    messages: Mapped[list[Message]] = relationship(
        back_populates="case", order_by="Message.id", foreign_keys="Message.case_id"
    )
    deadlines: Mapped[list[Deadline]] = relationship(back_populates="case", order_by="Deadline.due")

    @property
    def is_open(self) -> bool:
        return self.closed_at is None and self.merged_into_id is None


class ReferenceCounter(Base):
    __tablename__ = "reference_counters"
    year: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    last: Mapped[int] = mapped_column(Integer, default=0)


class Message(Base):
    """One message as received, and everything the service decided about it."""

    __tablename__ = "messages"
    __table_args__ = (
        UniqueConstraint("folder", "uidvalidity", "uid", name="uq_message_location"),
        Index("ix_messages_state", "state"),
        Index("ix_messages_sha256", "sha256"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    folder: Mapped[str] = mapped_column(String(400))
    uidvalidity: Mapped[int] = mapped_column(BigInteger)
    uid: Mapped[int] = mapped_column(BigInteger)
    message_id: Mapped[str | None] = mapped_column(String(255), index=True)
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)
    internal_date: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    state: Mapped[str] = mapped_column(String(20), default="received")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)

    subject: Mapped[str] = mapped_column(String(500), default="")
    from_addr: Mapped[str] = mapped_column(String(320), default="", index=True)
    from_name: Mapped[str] = mapped_column(String(200), default="")
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    parse_error: Mapped[str | None] = mapped_column(Text)

    category: Mapped[str | None] = mapped_column(String(40), index=True)
    confidence: Mapped[float | None] = mapped_column(Float)
    needs_review: Mapped[bool] = mapped_column(Boolean, default=False)
    review_reason: Mapped[str | None] = mapped_column(Text)
    classified_by: Mapped[str | None] = mapped_column(String(100))
    processed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), index=True)
    match_evidence: Mapped[str | None] = mapped_column(Text)
    duplicate_of_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id"))

    filed_folder: Mapped[str | None] = mapped_column(String(400))
    filed_uidvalidity: Mapped[int | None] = mapped_column(BigInteger)
    filed_uid: Mapped[int | None] = mapped_column(BigInteger)
    filed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    case: Mapped[Case | None] = relationship(back_populates="messages", foreign_keys=[case_id])
    drafts: Mapped[list[Draft]] = relationship(back_populates="message", order_by="Draft.id")

    @property
    def draft(self) -> Draft | None:
        """The newest draft for this message (a correction can add a second one)."""
        return self.drafts[-1] if self.drafts else None


class RawMessage(Base):
    """The message exactly as received, compressed: the evidence."""

    __tablename__ = "raw_messages"
    message_pk: Mapped[int] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"),
                                            primary_key=True)
    codec: Mapped[str] = mapped_column(String(10), default="zlib")
    data: Mapped[bytes] = mapped_column(LargeBinary)


class Draft(Base):
    __tablename__ = "drafts"
    __table_args__ = (UniqueConstraint("message_pk", "template", name="uq_draft_per_template"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    message_pk: Mapped[int] = mapped_column(ForeignKey("messages.id"), index=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), index=True)
    message_id: Mapped[str] = mapped_column(String(255), unique=True)
    to_addr: Mapped[str] = mapped_column(String(320), index=True)
    subject: Mapped[str] = mapped_column(String(500))
    template: Mapped[str] = mapped_column(String(100))
    raw: Mapped[bytes] = mapped_column(LargeBinary)
    state: Mapped[str] = mapped_column(String(20), default="pending")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    appended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sent_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    message: Mapped[Message] = relationship(back_populates="drafts")


class Event(Base):
    """Who did what, when and why: the audit trail of cases and messages."""

    __tablename__ = "events"
    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    kind: Mapped[str] = mapped_column(String(40), index=True)
    actor: Mapped[str] = mapped_column(String(200), default="service")
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), index=True)
    message_pk: Mapped[int | None] = mapped_column(ForeignKey("messages.id"), index=True)
    reason: Mapped[str] = mapped_column(Text, default="")
    old: Mapped[str | None] = mapped_column(String(500))
    new: Mapped[str | None] = mapped_column(String(500))


class Correction(Base):
    """A category corrected by a person: a labelled example for retraining."""

    __tablename__ = "corrections"
    id: Mapped[int] = mapped_column(primary_key=True)
    message_pk: Mapped[int] = mapped_column(ForeignKey("messages.id"), index=True)
    old_category: Mapped[str | None] = mapped_column(String(40))
    new_category: Mapped[str] = mapped_column(String(40))
    source: Mapped[str] = mapped_column(String(40))
    actor: Mapped[str] = mapped_column(String(200))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    folder_uid: Mapped[str | None] = mapped_column(String(500), unique=True)


class Deadline(Base):
    __tablename__ = "deadlines"
    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    kind: Mapped[str] = mapped_column(String(40))
    party: Mapped[str] = mapped_column(String(40))
    starts: Mapped[datetime] = mapped_column(UTCDateTime)
    due: Mapped[date] = mapped_column(Date, index=True)
    status: Mapped[str] = mapped_column(String(20), default="open", index=True)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    case: Mapped[Case] = relationship(back_populates="deadlines")


class DigestRun(Base):
    __tablename__ = "digests"
    id: Mapped[int] = mapped_column(primary_key=True)
    day: Mapped[date] = mapped_column(Date, unique=True)
    state: Mapped[str] = mapped_column(String(20), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    claimed_by: Mapped[str | None] = mapped_column(String(200))
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
