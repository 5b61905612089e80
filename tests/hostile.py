"""Hostile and odd messages, as bytes, for the "survive hostile input" tests.

Every generator is deterministic (fixed seeds, fixed dates) so that a failure
can be reproduced byte for byte. :func:`corpus` returns all of them by name.
"""

from __future__ import annotations

import base64
import random
from collections.abc import Callable

from tests.mail import COMPLAINT

CRLF = b"\r\n"
DATE = b"Date: Tue, 3 Nov 2026 10:00:00 +0000\r\n"
TO = b"To: complaints@example.org\r\n"

BIG_ATTACHMENT_BYTES = 25 * 1024 * 1024
MANY_PARTS = 5_000
DEEP_NESTING = 2_000
LONG_HEADER_BYTES = 1_000_000
LONG_FILENAME_CHARS = 5_000


def _msgid(name: str) -> bytes:
    return f"Message-ID: <hostile.{name}@test.example>\r\n".encode()


def _head(name: str, subject: bytes | None = None, sender: bytes = b"Hostile Tester <hostile@example.net>",
          extra: bytes = b"") -> bytes:
    """A complete, ordinary header block (without the blank line)."""
    subject = subject if subject is not None else f"hostile input: {name}".encode()
    return (b"From: " + sender + CRLF + TO + b"Subject: " + subject + CRLF + DATE + _msgid(name)
            + b"MIME-Version: 1.0\r\n" + extra)


def _b64_lines(data: bytes) -> bytes:
    """Base64 in 76-character CRLF lines, as mail clients write it."""
    encoded = base64.b64encode(data)
    return CRLF.join(encoded[i:i + 76] for i in range(0, len(encoded), 76)) + CRLF


def _text(body: str = "I wish to complain about an article in the Daily Mail.") -> bytes:
    return (b"Content-Type: text/plain; charset=utf-8\r\n\r\n" + body.encode() + CRLF)


# ---------------------------------------------------------------- size and structure


def big_attachment(size: int = BIG_ATTACHMENT_BYTES) -> bytes:
    """A short complaint with a ``size``-byte binary attachment (base64: ~1.37 x on the wire)."""
    data = random.Random(25).randbytes(size)
    return (_head("big-attachment", extra=b"Content-Type: multipart/mixed; boundary=BIG\r\n") + CRLF
            + b"--BIG\r\n" + _text("Please see the attached recording of the interview.")
            + b"--BIG\r\nContent-Type: application/octet-stream; name=recording.bin\r\n"
            + b"Content-Disposition: attachment; filename=recording.bin\r\n"
            + b"Content-Transfer-Encoding: base64\r\n\r\n" + _b64_lines(data) + b"--BIG--\r\n")


def many_parts(count: int = MANY_PARTS) -> bytes:
    """One multipart/mixed with ``count`` small text parts."""
    parts = b"".join(b"--P\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\npart %d\r\n" % i
                     for i in range(count))
    return (_head("many-parts", extra=b"Content-Type: multipart/mixed; boundary=P\r\n") + CRLF
            + parts + b"--P--\r\n")


def deep_nesting(depth: int = DEEP_NESTING) -> bytes:
    """Multiparts nested ``depth`` deep, properly closed, with one text part at the bottom."""
    opening = b"".join(b"--n%d\r\nContent-Type: multipart/mixed; boundary=n%d\r\n\r\n" % (i, i + 1)
                       for i in range(depth - 1))
    closing = b"".join(b"--n%d--\r\n" % i for i in reversed(range(depth)))
    return (_head("deep-nesting", extra=b"Content-Type: multipart/mixed; boundary=n0\r\n") + CRLF
            + opening + b"--n%d\r\n" % (depth - 1) + _text("the bottom of the well") + closing)


def long_subject(size: int = LONG_HEADER_BYTES) -> bytes:
    """A Subject that is one ``size``-byte line, never folded."""
    subject = b"Complaint " + b"A" * size
    return _head("long-subject", subject=subject) + CRLF + _text().split(CRLF + CRLF, 1)[1]


def long_x_header(size: int = LONG_HEADER_BYTES) -> bytes:
    """A custom X- header that is one ``size``-byte line (encoded words, spaces and all)."""
    value = (b"=?utf-8?q?caf=C3=A9?= " * (size // 22))[:size]
    return (_head("long-x-header", extra=b"X-Hostile: " + value + CRLF
                  + b"Content-Type: text/plain\r\n") + CRLF + b"An ordinary body.\r\n")


# ---------------------------------------------------------------- charsets


def unknown_charset_header() -> bytes:
    subject = b"=?x-no-such-charset?q?caf=E9?= =?../../etc/passwd?b?AAEC?= =?utf-8?x?bogus?="
    sender = b"=?klingon?q?Kahless_the_=FF?= <kahless@example.net>"
    return _head("unknown-charset-header", subject=subject, sender=sender,
                 extra=b"Content-Type: text/plain\r\n") + CRLF + b"body\r\n"


def mislabelled_charset_header() -> bytes:
    """Latin-1 bytes labelled UTF-8, UTF-8 bytes labelled ASCII, and an odd-length UTF-16 word."""
    subject = (b"=?utf-8?q?Caf=E9_=E0_la_cr=E8me?= =?us-ascii?b?" + base64.b64encode("naïve €".encode())
               + b"?= =?utf-16?b?" + base64.b64encode(b"\x00A\x00") + b"?=")
    return _head("mislabelled-charset-header", subject=subject,
                 sender=b"=?utf-8?q?Bj=F6rk?= <bjork@example.net>",
                 extra=b"Content-Type: text/plain\r\n") + CRLF + b"body\r\n"


def raw_8bit_headers() -> bytes:
    """Unencoded 8-bit bytes in headers: UTF-8 in From, Latin-1 in Subject."""
    return _head("raw-8bit-headers", subject="Réclamation à propos".encode("latin-1"),
                 sender="Zoë Österberg <zoe@example.net>".encode(),
                 extra=b"Content-Type: text/plain\r\n") + CRLF + "Grüße\r\n".encode()


def unknown_charset_body() -> bytes:
    return (_head("unknown-charset-body", extra=b"Content-Type: text/plain; charset=\"x-made-up\"\r\n"
                  b"Content-Transfer-Encoding: 8bit\r\n") + CRLF + b"abc \x81\x8d\x8f\xff def\r\n")


def mislabelled_charset_body() -> bytes:
    """A multipart whose parts lie about their charsets (cp1252 as UTF-8, UTF-8 as ASCII, UTF-16)."""
    parts = (
        b"--M\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
        + "The paper called me a \u201cliar\u201d".encode("cp1252") + CRLF
        + b"--M\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n" + "naïve".encode() + CRLF
        + b"--M\r\nContent-Type: text/plain; charset=utf-16\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        + base64.b64encode(b"\xff\xfeA\x00B") + CRLF
        + b"--M\r\nContent-Type: text/html; charset=\"utf-8\\\"; evil=1\"\r\n\r\n<p>\xe9t\xe9</p>\r\n"
        + b"--M--\r\n")
    return _head("mislabelled-charset-body", extra=b"Content-Type: multipart/mixed; boundary=M\r\n") \
        + CRLF + parts


# ---------------------------------------------------------------- NULs


def nul_in_headers() -> bytes:
    """NUL bytes in Subject, From's display name, a custom header and the Message-ID itself."""
    return (b"From: Nul\x00Person <nul@example.net>\r\n" + TO + b"Subject: before\x00after\r\n"
            + DATE + b"Message-ID: <hostile.nul\x00header@test.example>\r\n"
            + b"X-Nul: \x00\x00\x00\r\nContent-Type: text/plain\r\n\r\nbody\r\n")


def nul_in_thread_headers() -> bytes:
    """A clean Message-ID, but NUL bytes inside the Message-IDs it replies to."""
    return (b"From: Nul Replier <nul.reply@example.net>\r\n" + TO + b"Subject: Re: my complaint\r\n" + DATE
            + _msgid("nul-in-thread-headers") + b"In-Reply-To: <parent\x00id@test.example>\r\n"
            + b"References: <root@test.example> <parent\x00id@test.example>\r\n"
            + b"Content-Type: text/plain\r\n\r\nAs I said before, the article is wrong.\r\n")


def nul_in_body() -> bytes:
    return (_head("nul-in-body", extra=b"Content-Type: text/plain; charset=utf-8\r\n")
            + CRLF + b"I wish to complain\x00 about \x00\x00 the article.\r\n")


# ---------------------------------------------------------------- missing headers


def missing_from() -> bytes:
    return (TO + b"Subject: no sender\r\n" + DATE + _msgid("missing-from") + CRLF
            + b"Who sent this?\r\n")


def missing_date() -> bytes:
    return (b"From: a@example.net\r\n" + TO + b"Subject: no date\r\n" + _msgid("missing-date") + CRLF
            + b"When was this sent?\r\n")


def missing_message_id() -> bytes:
    return (b"From: a@example.net\r\n" + TO + b"Subject: no Message-ID\r\n" + DATE + CRLF
            + b"Which message is this?\r\n")


def no_headers() -> bytes:
    return b"\r\nThis message has no headers at all, only a body.\r\n"


def headers_are_garbage() -> bytes:
    """Lines that are not headers at all, then a body."""
    return b"this is not a header\r\n: nor this\r\n\x01\x02\x03\r\n\r\nbody\r\n"


def same_message_id_pair() -> tuple[bytes, bytes]:
    """Two different messages that claim the same Message-ID."""
    head = (b"From: twin@example.net\r\n" + TO + DATE + b"Message-ID: <hostile.twin@test.example>\r\n")
    return (head + b"Subject: first twin\r\n\r\nThe first text.\r\n",
            head + b"Subject: second twin\r\n\r\nA different second text.\r\n")


# ---------------------------------------------------------------- hostile subjects


def crlf_encoded_subject() -> bytes:
    """Encoded words that decode to CR/LF (header injection), NEL and LINE SEPARATOR."""
    subject = (b"=?utf-8?q?Complaint=0D=0ABcc:_attacker@evil.example=0D=0A=0D=0Abody?= "
               b"=?utf-8?b?" + base64.b64encode("a\r\nb\rc\nd\u0085e\u2028f\u2029g".encode()) + b"?=")
    sender = b"=?utf-8?q?Evil=0D=0AX-Injected:_1?= <evil@example.net>"
    return _head("crlf-encoded-subject", subject=subject, sender=sender,
                 extra=b"Content-Type: text/plain; charset=utf-8\r\n") + CRLF + COMPLAINT.encode()


def crlf_encoded_sender() -> bytes:
    """A From display name in base64 encoded words that decode to CR/LF + a Bcc header,
    and a BEL (mail-parser leaves such words undecoded; a later step may decode them)."""
    name = base64.b64encode(b"Evil\r\nBcc: attacker@evil.example")
    return (b"From: =?utf-8?b?" + name + b"?= <evil.sender@example.net>\r\n" + TO
            + b"Subject: =?utf-8?b?" + base64.b64encode(b"Ring\x07the\r\nbell") + b"?=\r\n" + DATE
            + _msgid("crlf-encoded-sender") + b"MIME-Version: 1.0\r\n"
            + b"Content-Type: text/plain; charset=utf-8\r\n\r\n" + COMPLAINT.encode())


def control_char_subject() -> bytes:
    """Terminal escapes, BEL, backspace, DEL and C1 controls, raw and encoded."""
    encoded = base64.b64encode("\x07\x1b[31mred\x1b[0m\x08\x7f\x9b31m".encode())
    subject = b"ctrl\x01\x07\x1b[2J =?utf-8?b?" + encoded + b"?= =?iso-8859-1?q?c1=85=9B=9D?="
    return _head("control-char-subject", subject=subject,
                 sender=b"=?utf-8?b?" + base64.b64encode(b"Bell\x07Ringer") + b"?= <bell@example.net>",
                 extra=b"Content-Type: text/plain; charset=utf-8\r\n") + CRLF + b"\x07\x1b[2J" + COMPLAINT.encode()


def rtl_override_subject() -> bytes:
    """U+202E makes 'invoice_exe.pdf' display reversed; isolates and a BOM as well."""
    subject = b"=?utf-8?b?" + base64.b64encode("Complaint \u202eFDP.exe\u202c \u2066x\u2069 \ufeffok".encode()) + b"?="
    sender = "\u202eesrever\u202c <rtl@example.net>".encode()
    return _head("rtl-override-subject", subject=subject, sender=sender,
                 extra=b"Content-Type: text/plain; charset=utf-8\r\n") + CRLF \
        + "\u202ereversed\u202c ".encode() + COMPLAINT.encode()


# ---------------------------------------------------------------- broken encodings


def broken_base64() -> bytes:
    parts = (
        b"--B\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        b"SGVsbG8gd29ybGQ!!!@@@###\r\n====\r\nSGVsbG8\r\n"
        b"--B\r\nContent-Type: application/pdf; name=a.pdf\r\nContent-Disposition: attachment; filename=a.pdf\r\n"
        b"Content-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK=\r\n\xff\xfe not base64 \x00\r\nQQ\r\n"
        b"--B\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: x-no-such-encoding\r\n\r\n"
        b"what encoding?\r\n--B--\r\n")
    return _head("broken-base64", extra=b"Content-Type: multipart/mixed; boundary=B\r\n") + CRLF + parts


def broken_quoted_printable() -> bytes:
    body = b"caf=E9 =ZZ =4 =\r\n=\r\ntrailing =3D=3 =\xff=\r\n" + b"=" * 100 + b"\r\nend=\r\n"
    return (_head("broken-qp", extra=b"Content-Type: text/plain; charset=iso-8859-1\r\n"
                  b"Content-Transfer-Encoding: quoted-printable\r\n") + CRLF + body)


def broken_boundaries() -> bytes:
    """A boundary that never appears, an empty one, and a part outside any boundary."""
    return (_head("broken-boundaries", extra=b"Content-Type: multipart/mixed; boundary=\"\"\r\n") + CRLF
            + b"--NOPE\r\nContent-Type: multipart/alternative\r\n\r\n--\r\n--\r\nstray text\r\n")


def truncated() -> bytes:
    """A multipart cut off in the middle of a base64 attachment, with no closing boundary."""
    whole = (_head("truncated", extra=b"Content-Type: multipart/mixed; boundary=T\r\n") + CRLF
             + b"--T\r\n" + _text("The article is attached.")
             + b"--T\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename=x.pdf\r\n"
             + b"Content-Transfer-Encoding: base64\r\n\r\n" + _b64_lines(random.Random(7).randbytes(3000))
             + b"--T--\r\n")
    return whole[: len(whole) // 2 + 3]


def truncated_in_header() -> bytes:
    """Cut off inside the header block (no blank line, half an encoded word)."""
    return b"From: cut@example.net\r\nSubject: =?utf-8?q?half_an_enco"


def mixed_line_endings() -> bytes:
    return (b"From: lines@example.net\nTo: complaints@example.org\r\nSubject: bare\rCR\r\n"
            + _msgid("mixed-line-endings") + b"\n\rbody with\rbare CRs\nand LFs\r\n")


# ---------------------------------------------------------------- attachment names


def traversal_filename() -> bytes:
    """Attachments whose names try to climb out of any directory they are saved to."""
    parts = (
        b"--F\r\n" + _text("See attached.")
        + b"--F\r\nContent-Type: text/plain; name=\"../../etc/passwd\"\r\n"
        b"Content-Disposition: attachment; filename=\"../../etc/passwd\"\r\n\r\nroot:x:0:0\r\n"
        b"--F\r\nContent-Type: application/octet-stream\r\n"
        b"Content-Disposition: attachment; filename*=utf-8''..%2F..%2F..%2Froot%2F.ssh%2Fauthorized_keys\r\n"
        b"\r\nssh-rsa AAAA\r\n"
        b"--F\r\nContent-Type: application/octet-stream\r\n"
        b"Content-Disposition: attachment; filename=\"C:\\\\Windows\\\\System32\\\\x.dll\\x00.txt\"\r\n"
        b"\r\nMZ\r\n--F--\r\n")
    return _head("traversal-filename", extra=b"Content-Type: multipart/mixed; boundary=F\r\n") + CRLF + parts


def long_rfc2231_filename(chars: int = LONG_FILENAME_CHARS) -> bytes:
    """A ``chars``-character filename, in RFC 2231 continuations and as one parameter."""
    name = ("%C3%A9" + "n" * 9) * (chars // 10)
    pieces = [name[i:i + 60] for i in range(0, len(name), 60)]
    continued = b";\r\n".join(f" filename*{i}*={'utf-8' if i == 0 else ''}{'' if i else chr(39) * 2}{p}".encode()
                              for i, p in enumerate(pieces))
    parts = (
        b"--L\r\n" + _text("Two attachments with long names.")
        + b"--L\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment;\r\n" + continued
        + b"\r\nContent-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK\r\n"
        + b"--L\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename*=utf-8''"
        + name.encode() + b"\r\n\r\nplain\r\n--L--\r\n")
    return _head("long-rfc2231-filename", extra=b"Content-Type: multipart/mixed; boundary=L\r\n") + CRLF + parts


# ---------------------------------------------------------------- everything


HUGE = ("big-attachment", "many-parts")

GENERATORS: dict[str, Callable[[], bytes]] = {
    "big-attachment": big_attachment,
    "many-parts": many_parts,
    "deep-nesting": deep_nesting,
    "long-subject": long_subject,
    "long-x-header": long_x_header,
    "unknown-charset-header": unknown_charset_header,
    "mislabelled-charset-header": mislabelled_charset_header,
    "raw-8bit-headers": raw_8bit_headers,
    "unknown-charset-body": unknown_charset_body,
    "mislabelled-charset-body": mislabelled_charset_body,
    "nul-in-headers": nul_in_headers,
    "nul-in-thread-headers": nul_in_thread_headers,
    "nul-in-body": nul_in_body,
    "missing-from": missing_from,
    "missing-date": missing_date,
    "missing-message-id": missing_message_id,
    "no-headers": no_headers,
    "headers-are-garbage": headers_are_garbage,
    "twin-1": lambda: same_message_id_pair()[0],
    "twin-2": lambda: same_message_id_pair()[1],
    "crlf-encoded-subject": crlf_encoded_subject,
    "crlf-encoded-sender": crlf_encoded_sender,
    "control-char-subject": control_char_subject,
    "rtl-override-subject": rtl_override_subject,
    "broken-base64": broken_base64,
    "broken-qp": broken_quoted_printable,
    "broken-boundaries": broken_boundaries,
    "truncated": truncated,
    "truncated-in-header": truncated_in_header,
    "mixed-line-endings": mixed_line_endings,
    "traversal-filename": traversal_filename,
    "long-rfc2231-filename": long_rfc2231_filename,
}


def corpus() -> dict[str, bytes]:
    """Every hostile message, by name, in a stable order."""
    return {name: make() for name, make in GENERATORS.items()}
