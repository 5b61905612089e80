"""The IMAP conversation: the only module that imports imapclient.

:class:`Mailbox` connects (TLS verified by default, STARTTLS or plain on
loopback), reads folders by UID without touching \\Seen (BODY.PEEK), appends
drafts, moves and flags messages, and waits with IDLE. Every imapclient, socket
and TLS error is translated into :class:`MailboxError` (or :class:`AuthError`).
Folder names are written with "/" in configuration and translated to the
server's hierarchy delimiter here.
"""

from __future__ import annotations

import contextlib
import imaplib
import logging
import re
import socket
import ssl
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientError, LoginError

from triage.config import ImapConfig
from triage.errors import AuthError, MailboxError

log = logging.getLogger(__name__)

_NET_ERRORS = (IMAPClientError, imaplib.IMAP4.error, imaplib.IMAP4.abort, OSError, ssl.SSLError,
               socket.timeout, EOFError)


@dataclass(frozen=True)
class Fetched:
    uid: int
    raw: bytes
    internal_date: datetime | None
    size: int


@dataclass(frozen=True)
class FolderState:
    name: str
    uidvalidity: int
    uidnext: int
    exists: int


Credentials = Callable[[], tuple[str, str]]
"""Returns (mechanism, secret): ("password", pw) or ("xoauth2", access_token)."""


@contextmanager
def translate(action: str) -> Iterator[None]:
    """Turn library and network errors into MailboxError naming ``action``."""
    try:
        yield
    except LoginError as exc:
        raise AuthError(f"IMAP login refused: {_msg(exc)}") from exc
    except MailboxError:
        raise
    except _NET_ERRORS as exc:
        raise MailboxError(f"IMAP {action} failed: {_msg(exc)}") from exc


def _msg(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    if isinstance(exc, bytes):  # pragma: no cover - imaplib sometimes passes bytes
        text = exc.decode("utf-8", "replace")
    return text.replace("\r", " ").replace("\n", " ")[:300]


def ssl_context(ca_file: str | None) -> ssl.SSLContext:
    """A verifying TLS context (system CAs, or ``ca_file`` when given)."""
    ctx = ssl.create_default_context(cafile=ca_file)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    return ctx


class Mailbox:
    """One logged-in IMAP connection."""

    def __init__(self, client: IMAPClient, cfg: ImapConfig) -> None:
        self.client = client
        self.cfg = cfg
        self.delimiter = "/"
        self.selected: str | None = None
        self._caps: set[str] = set()

    # ------------------------------------------------------------- connect

    @classmethod
    def connect(cls, cfg: ImapConfig, credentials: Credentials) -> Mailbox:
        """Connect and log in; raises MailboxError or AuthError."""
        ctx = ssl_context(str(cfg.ca_file) if cfg.ca_file else None)
        with translate(f"connection to {cfg.host}:{cfg.port}"):
            client = IMAPClient(cfg.host, port=cfg.port, ssl=cfg.security == "tls",
                                ssl_context=ctx, timeout=cfg.timeout_seconds)
        client.normalise_times = False  # keep INTERNALDATE's time zone (aware datetimes)
        box = cls(client, cfg)
        try:
            with translate("login"):
                if cfg.security == "starttls":
                    client.starttls(ctx)
                mech, secret = credentials()
                if mech == "xoauth2":
                    client.oauth2_login(cfg.username, secret)
                else:
                    client.login(cfg.username, secret)
                box._caps = {c.decode().upper() if isinstance(c, bytes) else str(c).upper()
                             for c in client.capabilities()}
                box.delimiter = box._server_delimiter()
        except BaseException:
            box.close()
            raise
        return box

    def _server_delimiter(self) -> str:
        folders = self.client.list_folders("", "")
        if folders and folders[0][1]:
            d = folders[0][1]
            return d.decode() if isinstance(d, bytes) else str(d)
        return "/"

    def has(self, capability: str) -> bool:
        return capability.upper() in self._caps

    def close(self) -> None:
        try:
            self.client.logout()
        except Exception:  # closing a broken connection
            with contextlib.suppress(Exception):
                self.client.shutdown()

    # ------------------------------------------------------------- folders

    def server_name(self, name: str) -> str:
        return name if name.upper() == "INBOX" else name.replace("/", self.delimiter)

    def ensure_folders(self, names: Sequence[str]) -> list[str]:
        """Create the folders (and their parents) that do not exist; returns those created."""
        with translate("folder list"):
            existing = {self._decode(f[2]) for f in self.client.list_folders()}
        created = []
        for name in names:
            parts = name.split("/")
            for i in range(1, len(parts) + 1):
                server = self.server_name("/".join(parts[:i]))
                if server not in existing and server.upper() != "INBOX":
                    with translate(f"create folder {server}"):
                        self.client.create_folder(server)
                        self.client.subscribe_folder(server)
                    existing.add(server)
                    created.append(server)
        return created

    def folder_exists(self, name: str) -> bool:
        with translate("folder list"):
            return bool(self.client.folder_exists(self.server_name(name)))

    @staticmethod
    def _decode(name: Any) -> str:
        return name.decode() if isinstance(name, bytes) else str(name)

    def select(self, name: str, readonly: bool = False) -> FolderState:
        server = self.server_name(name)
        with translate(f"select {server}"):
            info = self.client.select_folder(server, readonly=readonly)
        self.selected = server
        return FolderState(name, int(info[b"UIDVALIDITY"]), int(info.get(b"UIDNEXT", 0) or 0),
                           int(info.get(b"EXISTS", 0) or 0))

    def status(self, name: str) -> FolderState:
        server = self.server_name(name)
        with translate(f"status {server}"):
            info = self.client.folder_status(server, [b"UIDVALIDITY", b"UIDNEXT", b"MESSAGES"])
        return FolderState(name, int(info[b"UIDVALIDITY"]), int(info[b"UIDNEXT"]),
                           int(info[b"MESSAGES"]))

    # ------------------------------------------------------------- reading

    def uids_after(self, last_uid: int) -> list[int]:
        """UIDs in the selected folder greater than ``last_uid``, ascending."""
        with translate("search"):
            found = self.client.search(["UID", f"{last_uid + 1}:*"])
        return sorted(int(u) for u in found if int(u) > last_uid)


    def sizes(self, uids: Sequence[int]) -> dict[int, int]:
        out: dict[int, int] = {}
        for chunk in _chunks(list(uids), 500):
            with translate("fetch sizes"):
                data = self.client.fetch(chunk, ["RFC822.SIZE"])
            out.update({int(u): int(d.get(b"RFC822.SIZE", 0)) for u, d in data.items()})
        return out

    def fetch(self, uids: Sequence[int], batch_size: int, batch_bytes: int) -> Iterator[list[Fetched]]:
        """Full messages in batches bounded by count and bytes, without setting \\Seen."""
        sizes = self.sizes(uids)
        for batch in _plan_batches([u for u in uids if u in sizes], sizes, batch_size, batch_bytes):
            with translate("fetch"):
                data = self.client.fetch(batch, ["BODY.PEEK[]", "INTERNALDATE", "RFC822.SIZE"])
            out = []
            for uid in batch:
                item = data.get(uid)
                if item is None:  # expunged meanwhile
                    continue
                raw = item.get(b"BODY[]") or b""
                out.append(Fetched(uid, bytes(raw), item.get(b"INTERNALDATE"), len(raw)))
            yield out

    def message_ids(self, uids: Sequence[int]) -> dict[int, str]:
        """The Message-ID header of each UID in the selected folder ('' when absent)."""
        out: dict[int, str] = {}
        for uid, raw in self.header_fields(uids, ("MESSAGE-ID",)).items():
            m = re.search(rb"<[^<>\s]+>", raw)
            out[uid] = m.group(0).decode("ascii", "replace") if m else ""
        return out

    def header_fields(self, uids: Sequence[int], fields: Sequence[str]) -> dict[int, bytes]:
        """The raw header lines ``fields`` of each UID in the selected folder."""
        out: dict[int, bytes] = {}
        spec = f"BODY.PEEK[HEADER.FIELDS ({' '.join(fields)})]"
        for chunk in _chunks(list(uids), 500):
            with translate("fetch headers"):
                data = self.client.fetch(chunk, [spec])
            for uid, item in data.items():
                out[int(uid)] = next((v for k, v in item.items() if k.startswith(b"BODY[HEADER")), b"") or b""
        return out

    def search_message_id(self, folder: str, message_id: str) -> list[int]:
        """UIDs in ``folder`` whose Message-ID header is ``message_id``."""
        self.select(folder)
        with translate("search"):
            return [int(u) for u in self.client.search(["HEADER", "Message-ID", message_id])]

    # ------------------------------------------------------------- writing

    def append_many(self, folder: str, messages: Sequence[bytes], flags: Sequence[str]) -> None:
        """APPEND messages to ``folder`` (one MULTIAPPEND where the server offers it)."""
        server = self.server_name(folder)
        byte_flags = [f.encode() if isinstance(f, str) else f for f in flags]
        with translate(f"append to {server}"):
            if len(messages) > 1 and self.has("MULTIAPPEND"):
                self.client.multiappend(server, [{"msg": m, "flags": byte_flags} for m in messages])
            else:
                for m in messages:
                    self.client.append(server, m, byte_flags)

    def move(self, uids: Sequence[int], folder: str) -> None:
        """Move UIDs from the selected folder (MOVE, or COPY + expunge of those UIDs)."""
        if not uids:
            return
        server = self.server_name(folder)
        with translate(f"move to {server}"):
            if self.has("MOVE"):
                self.client.move(list(uids), server)
            else:
                self.client.copy(list(uids), server)
                self.client.add_flags(list(uids), [b"\\Deleted"], silent=True)
                if self.has("UIDPLUS"):
                    self.client.uid_expunge(list(uids))
                else:
                    self.client.expunge()

    def add_keywords(self, uids: Sequence[int], keywords: Sequence[str]) -> None:
        if uids and keywords:
            with translate("store keywords"):
                self.client.add_flags(list(uids), [k.encode() for k in keywords], silent=True)

    # ------------------------------------------------------------- waiting

    def idle_until(self, seconds: float, should_stop: Callable[[], bool]) -> bool:
        """Wait in IDLE for up to ``seconds``; True when the server reported new mail."""
        if not self.has("IDLE"):
            return False
        with translate("idle"):
            self.client.idle()
            try:
                waited = 0.0
                while waited < seconds and not should_stop():
                    step = min(1.0, seconds - waited)
                    responses = self.client.idle_check(timeout=step)
                    waited += step
                    if any(len(r) > 1 and r[1] in (b"EXISTS", b"RECENT") for r in responses):
                        return True
                return False
            finally:
                self.client.idle_done()



def _chunks(items: list[int], n: int) -> Iterator[list[int]]:
    for i in range(0, len(items), n):
        yield items[i : i + n]


def _plan_batches(uids: list[int], sizes: dict[int, int], max_count: int,
                  max_bytes: int) -> Iterator[list[int]]:
    batch: list[int] = []
    total = 0
    for uid in uids:
        size = sizes.get(uid, 0)
        if batch and (len(batch) >= max_count or total + size > max_bytes):
            yield batch
            batch, total = [], 0
        batch.append(uid)
        total += size
    if batch:
        yield batch
