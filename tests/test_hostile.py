"""Survive hostile and odd input: every message is recorded exactly once with its raw
bytes, the loop goes on, limits are configurable, memory stays bounded, and the
parser never raises out of the pipeline.

The messages come from ``tests/hostile.py``; the cycles run against a real Dovecot
and real SQLite and PostgreSQL databases, exactly as ``triage poll --once`` does.
"""

from __future__ import annotations

import base64
import hashlib
import os
import quopri
import re
import subprocess
import sys
import time
import unicodedata
import zlib
from collections import Counter
from dataclasses import replace
from pathlib import Path
from urllib.parse import quote

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from tests import hostile
from tests.conftest import folder_messages, imap, server_folder
from tests.mail import COMPLAINT, FOLLOWUP, message
from triage import mailbox, store
from triage.cli import main
from triage.config import Config, LimitsConfig, load_config
from triage.message import Email, decode_header_value, parse

# Small enough that the 25 MB attachment and the 5,000 parts hit a limit, large
# enough that the 1 MB header lines and the 2,000-deep nesting reach the parser.
TEST_LIMITS = LimitsConfig(max_message_bytes=4_000_000, max_parts=3_000, max_text_chars=20_000)
# What may never reach a subject or a sender: CR, LF and every other C0/C1 control
# (a tab is plain whitespace left by unfolding), Unicode line/paragraph separators,
# and the bidirectional marks, embeddings, overrides and isolates.
_BIDI = set("\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def unsafe_chars(value: str) -> list[str]:
    """Unsafe characters in ``value``, or in what its leftover RFC 2047 encoded words
    decode to (the email package decodes them again when a reply is built)."""
    seen = value + "|" + decode_header_value(value)
    return sorted({c for c in seen if (unicodedata.category(c) == "Cc" and c != "\t")
                   or unicodedata.category(c) in ("Zl", "Zp") or c in _BIDI})


def with_limits(cfg: Config, limits: LimitsConfig) -> Config:
    """The generated config with a ``[limits]`` table appended, loaded again."""
    with cfg.path.open("a") as f:
        f.write(f"\n[limits]\nmax_message_bytes = {limits.max_message_bytes}\n"
                f"max_parts = {limits.max_parts}\nmax_text_chars = {limits.max_text_chars}\n")
    loaded = load_config(cfg.path)
    assert loaded.limits == limits
    return loaded


def init(cfg: Config) -> None:
    assert main(["--config", str(cfg.path), "init"]) == 0


def poll(cfg: Config, capsys) -> str:
    capsys.readouterr()
    code = main(["--config", str(cfg.path), "poll", "--once"])
    out = capsys.readouterr()
    assert code == 0, out.out[-3000:] + out.err[-3000:]
    return out.out


def append(client, raw: bytes) -> int:
    """APPEND to INBOX; the UID the server gave the message (UIDPLUS)."""
    answer = client.append("INBOX", raw)
    found = re.search(rb"APPENDUID \d+ (\d+)", answer)
    assert found, answer
    return int(found.group(1))


def mailbox_contents(client) -> dict[str, Counter[str]]:
    """Folder → sha256 of every message in it (Drafts included)."""
    out: dict[str, Counter[str]] = {}
    for _flags, _delim, name in client.list_folders():
        raws = folder_messages(client, name)
        if raws:
            out[name] = Counter(hashlib.sha256(r).hexdigest() for r in raws.values())
    return out


def records(cfg: Config) -> list[tuple]:
    """Every message record as a comparable tuple, plus the row counts that matter."""
    db = store.Store(cfg.database_url)
    with db.transaction() as s:
        rows = [(m.id, m.folder, m.uidvalidity, m.uid, m.message_id, m.sha256, m.state, m.attempts,
                 m.category, m.parse_error, m.error, m.case_id, m.filed_folder, m.subject,
                 m.from_addr, m.duplicate_of_id)
                for m in s.scalars(select(store.Message).order_by(store.Message.id))]
        counts = (s.scalar(select(func.count()).select_from(store.RawMessage)),
                  s.scalar(select(func.count()).select_from(store.Draft)),
                  s.scalar(select(func.count()).select_from(store.Case)))
    db.dispose()
    return [*rows, counts]


# ---------------------------------------------------------------- a) whole cycles


def check_recorded_once(cfg: Config, on_server: dict[int, bytes], uid_of: dict[str, int]) -> None:
    """Each UID recorded once, its raw bytes exactly the server's, each with an outcome."""
    db = store.Store(cfg.database_url)
    with db.transaction() as s:
        recs = s.scalars(select(store.Message)).all()
        assert Counter(r.uid for r in recs) == Counter(on_server.keys())  # once per UID, none extra
        server_sha = {uid: hashlib.sha256(raw).hexdigest() for uid, raw in on_server.items()}
        assert Counter(r.sha256 for r in recs) == Counter(server_sha.values())
        name_of = {uid: name for name, uid in uid_of.items()}
        for r in recs:
            what = f"{name_of[r.uid]} (uid {r.uid})"
            raw = zlib.decompress(s.get(store.RawMessage, r.id).data)
            assert raw == on_server[r.uid], f"{what}: raw bytes differ from the server's"
            assert r.sha256 == server_sha[r.uid] and r.size == len(raw), what
            assert r.state in ("done", "quarantined"), (what, r.state, r.error)
            assert r.category is not None or r.parse_error or r.error, what
            assert "\r" not in r.subject and "\n" not in r.subject, (what, r.subject)
            assert "\r" not in r.from_name and "\n" not in r.from_name, (what, r.from_name)
        by_name = {name_of[r.uid]: r for r in recs}
        big, many = by_name["big-attachment"], by_name["many-parts"]
        assert big.parse_error and f"over the limit of {TEST_LIMITS.max_message_bytes}" in big.parse_error
        assert "bytes" in big.parse_error, big.parse_error
        assert many.parse_error and "5001 MIME parts" in many.parse_error, many.parse_error
        assert f"over the limit of {TEST_LIMITS.max_parts}" in many.parse_error
        twins = [by_name["twin-1"], by_name["twin-2"]]
        assert {t.message_id for t in twins} == {"<hostile.twin@test.example>"}
        assert twins[0].sha256 != twins[1].sha256 and twins[0].id != twins[1].id
        assert twins[0].duplicate_of_id is None and twins[1].duplicate_of_id is None
        assert {t.subject for t in twins} == {"first twin", "second twin"}
    db.dispose()


_INJECTED = re.compile(rb"^(bcc|x-injected)\s*:", re.I | re.M)
_HEADER_CONTROL = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def hostile_input_problems(cfg: Config, client, uid_of: dict[str, int]) -> dict[str, str]:
    """Harm done by hostile input short of losing a message: a step that failed on
    it (quarantined), or a reply draft whose header carries a control character or
    an injected header line."""
    name_of = {uid: name for name, uid in uid_of.items()}
    problems: dict[str, str] = {}
    db = store.Store(cfg.database_url)
    with db.transaction() as s:
        for r in s.scalars(select(store.Message).where(store.Message.state == "quarantined")):
            problems[name_of[r.uid]] = f"quarantined: {r.error}"
    db.dispose()
    for raw in folder_messages(client, "Drafts").values():
        head = raw.split(b"\r\n\r\n", 1)[0]
        replying_to = re.search(rb"In-Reply-To: <hostile\.([^@>]+)@", head)
        what = f"draft replying to {replying_to.group(1).decode() if replying_to else '?'}"
        bad_lines = [line for line in head.split(b"\r\n") if _HEADER_CONTROL.search(line)]
        if bad_lines:
            problems[what] = f"control characters in header lines {bad_lines}"
        if _INJECTED.search(head) or len(re.findall(rb"^subject:", head, re.I | re.M)) != 1:
            problems[what] = f"injected header lines: {head!r}"
    return problems


def test_hostile_mailbox_every_message_recorded_once(make_config, database_url, imap_user, dovecot,
                                                     capsys):
    # max_attempts=1: a message that makes a step fail is quarantined in this very
    # cycle, so one cycle reaches the final state and the next must change nothing.
    cfg = with_limits(make_config(database_url, imap_user, max_attempts=1), TEST_LIMITS)
    init(cfg)
    client = imap(dovecot, imap_user)
    messages = hostile.corpus()
    uid_of = {name: append(client, raw) for name, raw in messages.items()}
    del messages
    on_server = folder_messages(client, "INBOX")
    assert sorted(on_server) == sorted(uid_of.values())

    out = poll(cfg, capsys)
    assert f"{len(on_server)} new message(s) recorded" in out, out[-2000:]
    check_recorded_once(cfg, on_server, uid_of)
    assert folder_messages(client, "INBOX") == {}
    filed = mailbox_contents(client)
    everywhere = sum((c for name, c in filed.items() if name != server_folder(client, "Drafts")), Counter())
    assert everywhere == Counter(hashlib.sha256(r).hexdigest() for r in on_server.values())

    before = records(cfg)
    out = poll(cfg, capsys)
    assert "0 new message(s) recorded, 0 processed" in out, out[-2000:]
    assert records(cfg) == before
    assert mailbox_contents(client) == filed
    # Last, so that the guarantees above are proven whatever this finds.
    problems = hostile_input_problems(cfg, client, uid_of)
    assert not problems, "\n".join(f"{what}: {why}" for what, why in problems.items())
    client.logout()


def test_server_that_keeps_nul_bytes(make_config, database_url, imap_user, dovecot, capsys, monkeypatch):
    """Dovecot turns NULs into 0x80 on APPEND; other servers hand them over as they are.
    Simulated at the mailbox seam: the fetched bytes of the NUL messages are the originals."""
    cfg = with_limits(make_config(database_url, imap_user, max_attempts=1), TEST_LIMITS)
    init(cfg)
    client = imap(dovecot, imap_user)
    originals = {"nul-in-headers": hostile.nul_in_headers(), "nul-in-body": hostile.nul_in_body(),
                 "nul-in-thread-headers": hostile.nul_in_thread_headers(),
                 "ordinary": message("Margaret Hollis <mags@example.net>", "Complaint", COMPLAINT)}
    uid_of = {name: append(client, raw) for name, raw in originals.items()}
    served = {uid_of[name]: raw for name, raw in originals.items()}
    real_fetch = mailbox.Mailbox.fetch

    def fetch_keeping_nuls(self, uids, batch_size, batch_bytes):
        for batch in real_fetch(self, uids, batch_size, batch_bytes):
            yield [replace(f, raw=served[f.uid], size=len(served[f.uid])) if f.uid in served else f
                   for f in batch]

    monkeypatch.setattr(mailbox.Mailbox, "fetch", fetch_keeping_nuls)
    out = poll(cfg, capsys)
    assert f"{len(served)} new message(s) recorded" in out, out[-2000:]
    check_nul_records(cfg, served)
    assert folder_messages(client, "INBOX") == {}
    before = records(cfg)
    out = poll(cfg, capsys)
    assert "0 new message(s) recorded, 0 processed" in out, out[-2000:]
    assert records(cfg) == before
    client.logout()


def check_nul_records(cfg: Config, served: dict[int, bytes]) -> None:
    db = store.Store(cfg.database_url)
    with db.transaction() as s:
        recs = s.scalars(select(store.Message)).all()
        assert Counter(r.uid for r in recs) == Counter(served.keys())
        for r in recs:
            assert zlib.decompress(s.get(store.RawMessage, r.id).data) == served[r.uid]
            assert r.state in ("done", "quarantined"), (r.uid, r.state, r.error)
            assert r.category is not None or r.parse_error or r.error, r.uid
            # A database refusing NUL is no reason to quarantine a readable message.
            assert "NUL" not in (r.error or ""), (r.uid, r.error)
    db.dispose()


# ---------------------------------------------------------------- b) bounded memory


ORDINARY = 300
# The bound is relative to a poll of a small ordinary inbox in the same environment
# (the interpreter, SQLAlchemy, scikit-learn and the model: ~280 MiB here, and it
# varies with library versions), plus at most 10 copies of the largest message.
# The 25 MB attachment makes a 35.9 MB message, under the shipped 40 MB limit, so it
# is parsed in full, the worst case. What is held: the fetched bytes of the batch
# (1x, and imapclient's read buffer while it arrives), their zlib copy (0.75x,
# before parsing), and the parser's peak, measured with tracemalloc at 7.7x for
# this message (the stdlib feedparser's decoded text, its line list and the joined
# payload; mail-parser's base64 payload; the decoded attachment). About 9x in all,
# so 10x is what a correct implementation needs; a further copy of the batch or of
# the mailbox (every message held at once) would go over it. With the default
# limits the worst case is then ~280 MiB + 10 x 40 MiB.
COPIES_OF_LARGEST = 10


# Linux counts the memory of the process that forked a child in the child's peak
# (the forked copy of this pytest process, hundreds of MB by now), so the command
# is started from a small, fresh interpreter that reports its child's figure.
_MEASURE = """\
import os, subprocess, sys
child = subprocess.Popen(sys.argv[2:])
_pid, status, usage = os.wait4(child.pid, 0)
with open(sys.argv[1], "w") as f:
    f.write(str(usage.ru_maxrss))
sys.exit(os.waitstatus_to_exitcode(status))
"""


def peak_rss_mb(argv: list[str], log: Path) -> tuple[int, float]:
    """Run a command to its end; its exit code and its peak resident set size in MiB."""
    figure = log.with_suffix(".maxrss")
    with log.open("wb") as out:
        code = subprocess.run([sys.executable, "-c", _MEASURE, str(figure), *argv], stdout=out,
                              stderr=subprocess.STDOUT, env=os.environ.copy(), check=False).returncode
    return code, int(figure.read_text()) / 1024  # Linux reports kilobytes


def ordinary_messages(count: int) -> list[bytes]:
    senders = ["Margaret Hollis <mags@example.net>", "Tom Reed <tom.reed@example.com>",
               "Priya Shah <priya@example.org>", "Newsdesk <newsdesk@example.net>"]
    return [message(senders[i % 4], f"Complaint number {i} about an article",
                    (COMPLAINT if i % 2 else FOLLOWUP) + f"\nReference point {i}.\n")
            for i in range(count)]


def poll_in_subprocess(cfg: Config, log: Path) -> tuple[float, str]:
    """``triage poll --once`` in its own process: its peak RSS (MiB) and its output."""
    argv = [sys.executable, "-c", "import sys; from triage.cli import main; sys.exit(main(sys.argv[1:]))",
            "--config", str(cfg.path), "poll", "--once"]
    code, peak = peak_rss_mb(argv, log)
    output = log.read_text(errors="replace")
    assert code == 0, output[-3000:]
    return peak, output


def test_peak_memory_of_a_poll_over_huge_messages(make_config, imap_user, dovecot, tmp_path):
    base_cfg = make_config(f"sqlite:///{tmp_path / 'base.db'}", imap_user + "b")
    init(base_cfg)
    client = imap(dovecot, imap_user + "b")
    client.multiappend("INBOX", ordinary_messages(5))
    baseline, _ = poll_in_subprocess(base_cfg, tmp_path / "base.log")
    client.logout()

    cfg = make_config(f"sqlite:///{tmp_path / 'mem.db'}", imap_user)  # the shipped default limits
    init(cfg)
    client = imap(dovecot, imap_user)
    big = hostile.big_attachment()
    largest = len(big)
    assert largest < cfg.limits.max_message_bytes  # parsed in full: the worst case
    append(client, big)
    del big
    append(client, hostile.many_parts())
    ordinary = ordinary_messages(ORDINARY)
    for start in range(0, len(ordinary), 100):
        client.multiappend("INBOX", ordinary[start:start + 100])
    assert client.select_folder("INBOX")[b"EXISTS"] == ORDINARY + 2

    peak, output = poll_in_subprocess(cfg, tmp_path / "poll.log")
    bound = baseline + COPIES_OF_LARGEST * largest / 2**20
    print(f"\npeak RSS of `triage poll --once` over a {largest / 1e6:.1f} MB message, a "
          f"{hostile.MANY_PARTS}-part message and {ORDINARY} ordinary ones: {peak:.0f} MiB "
          f"(a poll of 5 ordinary messages: {baseline:.0f} MiB; bound {bound:.0f} MiB)")
    assert f"{ORDINARY + 2} new message(s) recorded" in output, output[-3000:]
    assert peak < bound, f"peak RSS {peak:.0f} MiB over the bound of {bound:.0f} MiB"
    client.select_folder("INBOX")
    assert client.search(["ALL"]) == []
    client.logout()


# ---------------------------------------------------------------- c) property: parse never raises


CHARSETS = ["utf-8", "us-ascii", "iso-8859-1", "windows-1252", "utf-16", "utf-7", "koi8-r", "gb2312",
            "x-unknown", "../../etc/passwd", "utf-8\"; x=\"", "", "unicode-1-1-utf-7", "x-mac-roman"]
ENCODINGS = ["7bit", "8bit", "binary", "base64", "quoted-printable", "x-uuencode", "bogus", ""]
LEAF_TYPES = ["text/plain", "text/html", "application/octet-stream", "application/pdf", "image/png",
              "message/rfc822", "message/delivery-status", "text/x-bogus", "garbage", "text/", "/"]
MULTI_TYPES = ["mixed", "alternative", "related", "digest", "report", "x-bogus"]
FILENAMES = st.one_of(
    st.none(),
    st.sampled_from(["../../etc/passwd", "..\\..\\boot.ini", "/dev/zero", "a\x00b.txt", "CON", "x" * 300]),
    st.text(max_size=40),
)

header_text = st.text(max_size=60)
header_bytes = st.binary(max_size=60)


@st.composite
def encoded_word(draw, text=header_text) -> bytes:
    """A header value: raw bytes, or RFC 2047 words (good, bogus charset, broken payload)."""
    kind = draw(st.sampled_from(["raw", "raw-bytes", "b", "q", "broken"]))
    value = draw(text)
    if kind == "raw":
        return value.encode("utf-8", "surrogatepass")
    if kind == "raw-bytes":
        return draw(header_bytes)
    charset = draw(st.sampled_from(CHARSETS)).encode()
    data = value.encode("utf-8", "surrogatepass")
    if kind == "b":
        return b"=?" + charset + b"?b?" + base64.b64encode(data) + b"?="
    if kind == "q":
        return b"=?" + charset + b"?q?" + b"".join(b"=%02X" % c for c in data) + b"?="
    return b"=?" + charset + b"?" + draw(st.sampled_from([b"b", b"q", b"x", b""])) + b"?" + draw(header_bytes) + b"?="


@st.composite
def leaf(draw) -> bytes:
    ctype = draw(st.sampled_from(LEAF_TYPES)).encode()
    charset = draw(st.sampled_from(CHARSETS)).encode()
    cte = draw(st.sampled_from(ENCODINGS))
    body = draw(st.one_of(st.binary(max_size=200), st.text(max_size=200).map(
        lambda t: t.encode("utf-8", "surrogatepass"))))
    if cte == "base64" and draw(st.booleans()):
        body = base64.encodebytes(body)
    elif cte == "quoted-printable" and draw(st.booleans()):
        body = quopri.encodestring(body)
    head = b"Content-Type: " + ctype + b"; charset=\"" + charset + b"\"\r\n"
    if cte:
        head += b"Content-Transfer-Encoding: " + cte.encode() + b"\r\n"
    name = draw(FILENAMES)
    if name is not None:
        form = draw(st.sampled_from(["plain", "2231", "2047"]))
        quoted = name.encode("utf-8", "surrogatepass")
        if form == "2231":
            head += b"Content-Disposition: attachment; filename*=utf-8''" + quote(quoted).encode() + b"\r\n"
        elif form == "2047":
            head += b"Content-Disposition: attachment; filename=\"" + draw(encoded_word(st.just(name))) + b"\"\r\n"
        else:
            head += b"Content-Disposition: attachment; filename=\"" + quoted + b"\"\r\n"
    if draw(st.booleans()):
        head += b"X-Random: " + draw(header_bytes) + b"\r\n"
    return head + b"\r\n" + body


def multipart(children):
    @st.composite
    def build(draw) -> bytes:
        subtype = draw(st.sampled_from(MULTI_TYPES)).encode()
        boundary = draw(st.sampled_from([b"b1", b"b2", b"=_x", b"", b"--"]))  # collisions on purpose
        parts = draw(st.lists(children, max_size=4))
        body = b"".join(b"--" + boundary + b"\r\n" + p + b"\r\n" for p in parts)
        if draw(st.booleans()):  # sometimes never closed
            body += b"--" + boundary + b"--\r\n"
        return (b"Content-Type: multipart/" + subtype + b"; boundary=\"" + boundary + b"\"\r\n\r\n"
                + draw(st.binary(max_size=20)) + b"\r\n" + body)
    return build()


mime_tree = st.recursive(leaf(), multipart, max_leaves=8)


ONE_IN_FIVE = st.sampled_from([False, False, False, False, True])


@st.composite
def hostile_message(draw) -> bytes:
    head = b""
    for name in draw(st.permutations(["From", "Subject", "Date", "Message-ID", "Reply-To", "To"])):
        if draw(ONE_IN_FIVE):
            continue  # missing header
        head += name.encode() + b": " + draw(encoded_word()) + b"\r\n"
        if name == "From" and draw(st.booleans()):
            head += b"From: " + draw(encoded_word()) + b" <" + draw(header_bytes) + b"@example.net>\r\n"
    head += b"MIME-Version: 1.0\r\n"
    raw = head + draw(mime_tree)
    if draw(ONE_IN_FIVE):
        raw = raw[: int(len(raw) * draw(st.floats(0.05, 0.95)))]  # truncated
    return raw


PROPERTY_LIMITS = LimitsConfig(max_message_bytes=100_000, max_parts=50, max_text_chars=5_000)


PROPERTY_SETTINGS = settings(max_examples=200, deadline=None, derandomize=True, database=None,
                             suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@PROPERTY_SETTINGS
@given(hostile_message())
def test_parse_never_raises(raw):
    e = parse(raw, PROPERTY_LIMITS)
    assert isinstance(e, Email)
    assert e.size == len(raw) and e.sha256 == hashlib.sha256(raw).hexdigest()
    assert e.parse_error is None or e.parse_error.strip()
    assert len(e.text) <= PROPERTY_LIMITS.max_text_chars + 1000  # forwarded headers may add a little


@PROPERTY_SETTINGS
@given(hostile_message())
def test_parsed_subject_and_sender_have_no_line_breaks_or_controls(raw):
    e = parse(raw, PROPERTY_LIMITS)
    for field_name in ("subject", "from_name", "from_addr"):
        value = getattr(e, field_name)
        assert "\r" not in value and "\n" not in value, (field_name, value)
        assert not unsafe_chars(value), (field_name, value)


HEADER_ATTACKS = ("crlf-encoded-subject", "crlf-encoded-sender", "control-char-subject",
                  "rtl-override-subject", "nul-in-headers", "unknown-charset-header", "mislabelled-charset-header", "raw-8bit-headers",
                  "truncated-in-header", "mixed-line-endings", "no-headers", "headers-are-garbage")


def test_hostile_subjects_and_senders_are_sanitised():
    """The header attacks of the corpus leave no line break or control character
    in the subject or the sender (they end up in drafts, logs and listings)."""
    problems = {}
    for name in HEADER_ATTACKS:
        e = parse(hostile.GENERATORS[name](), TEST_LIMITS)
        bad = {f: unsafe_chars(getattr(e, f)) for f in ("subject", "from_name", "from_addr")}
        if any(bad.values()):
            problems[name] = {f: chars for f, chars in bad.items() if chars}
    assert problems == {}, problems


def test_limits_come_from_config(make_config, imap_user, tmp_path):
    cfg = make_config(f"sqlite:///{tmp_path / 'l.db'}", imap_user)
    assert cfg.limits == LimitsConfig(max_message_bytes=40 * 1024 * 1024, max_parts=500,
                                      max_text_chars=200_000)
    cfg = with_limits(cfg, LimitsConfig(max_message_bytes=2048, max_parts=2, max_text_chars=1000))
    e = parse(hostile.many_parts(3), cfg.limits)
    assert e.parse_error and "4 MIME parts, over the limit of 2" in e.parse_error
    e = parse(hostile.long_subject(4000), cfg.limits)
    assert e.parse_error and "over the limit of 2048" in e.parse_error
    assert e.subject.startswith("Complaint AAAA")


def test_header_decoding_time_grows_linearly():
    """A header of encoded words (legal, and under every limit) must not take time
    quadratic in its length: at the default 40 MB limit one such message would stall
    the loop for hours. Eight times the length may take about eight times as long."""
    limits = LimitsConfig(max_message_bytes=40 * 1024 * 1024, max_parts=500, max_text_chars=200_000)
    timings = {}
    for size in (62_500, 500_000):
        best = float("inf")
        for _ in range(3 if size < 100_000 else 1):
            raw = hostile.long_x_header(size)
            started = time.perf_counter()
            parse(raw, limits)
            best = min(best, time.perf_counter() - started)
        timings[size] = best
    print(f"\nparse time of a header of encoded words: {timings}")
    assert timings[500_000] < 0.2 + 16 * timings[62_500], timings
