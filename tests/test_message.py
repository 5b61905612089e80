"""Bytes → Email: real-world and hostile input never raises, and says what went wrong."""

from __future__ import annotations

import pytest

from tests.conftest import CORPUS
from triage.config import LimitsConfig
from triage.message import parse

LIMITS = LimitsConfig(max_message_bytes=5_000_000, max_parts=200, max_text_chars=200_000)


@pytest.mark.parametrize("path", sorted(CORPUS.glob("*/*.eml")), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_corpus_parses_or_says_why(path):
    raw = path.read_bytes()
    email = parse(raw, LIMITS)
    assert email.size == len(raw)
    assert len(email.sha256) == 64
    assert email.parse_error is None or email.parse_error.strip()
    assert "\r" not in email.subject and "\n" not in email.subject


def test_headers_addresses_and_threading():
    raw = (b"From: =?utf-8?q?Zo=C3=AB_O=27Brien?= <Zoe@Example.ORG>\r\n"
           b"Reply-To: zoe.home@example.net\r\nTo: complaints@example.org, other@example.org\r\n"
           b"Subject: =?iso-8859-1?q?Caf=E9_article?=\r\nDate: Tue, 3 Nov 2026 10:00:00 +0000\r\n"
           b"Message-ID: <abc@example.org>\r\nIn-Reply-To: <p2@x>\r\nReferences: <p1@x> <p2@x>\r\n"
           b"\r\nHello\r\n")
    e = parse(raw, LIMITS)
    assert (e.from_name, e.from_addr, e.reply_to) == ("Zoë O'Brien", "zoe@example.org", ("zoe.home@example.net",))
    assert e.subject == "Café article" and e.message_id == "<abc@example.org>"
    assert e.to == ("complaints@example.org", "other@example.org")
    assert e.thread_ids == ("<p2@x>", "<p1@x>") and e.is_reply
    assert e.date is not None and e.date.year == 2026


def test_mislabelled_charset_falls_back_to_cp1252():
    body = "The paper called me a \u201cliar\u201d \u2013 it isn\u2019t true".encode("cp1252")
    raw = b"From: a@b.org\r\nSubject: x\r\nContent-Type: text/plain; charset=utf-8\r\n" \
          b"Content-Transfer-Encoding: 8bit\r\n\r\n" + body
    e = parse(raw, LIMITS)
    assert "\u201cliar\u201d \u2013 it isn\u2019t true" in e.text


def test_unknown_charset_and_undecodable_bytes_become_replacement_characters():
    raw = b"From: a@b.org\r\nContent-Type: text/plain; charset=x-made-up\r\n\r\nabc \x81\x8d\x8f def"
    e = parse(raw, LIMITS)
    assert e.text.startswith("abc ") and e.text.endswith(" def")


def test_html_only_quotes_and_attachments_with_encoded_names():
    raw = (b"From: a@b.org\r\nSubject: Re: my complaint\r\nMIME-Version: 1.0\r\n"
           b"Content-Type: multipart/mixed; boundary=XX\r\n\r\n--XX\r\nContent-Type: text/html\r\n\r\n"
           b"<div>Here is the date you asked for.<br>Thanks</div>"
           b"<div class=\"gmail_quote\">On Mon, IPSO wrote:<blockquote>Please send the date.</blockquote></div>"
           b"<style>p {color:red}</style>\r\n"
           b"--XX\r\nContent-Type: application/pdf\r\n"
           b"Content-Disposition: attachment; filename*=utf-8''lettre%20%C3%A0%20l%27%C3%A9diteur.pdf\r\n"
           b"Content-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK\r\n--XX--\r\n")
    e = parse(raw, LIMITS)
    assert e.new_text == "Here is the date you asked for.\nThanks"
    assert "Please send the date." in e.quoted_text and "color" not in e.text
    assert [(a.name, a.content_type, a.size) for a in e.attachments] == [
        ("lettre à l'éditeur.pdf", "application/pdf", 9)]


def test_forwarded_message_part_is_quoted_material():
    raw = (b"From: a@b.org\r\nSubject: Fwd: their reply\r\nMIME-Version: 1.0\r\n"
           b"Content-Type: multipart/mixed; boundary=B\r\n\r\n--B\r\nContent-Type: text/plain\r\n\r\n"
           b"See below what the newspaper sent me.\r\n--B\r\nContent-Type: message/rfc822\r\n\r\n"
           b"From: editor@thesun.co.uk\r\nSubject: Your complaint\r\n\r\nWe stand by our story.\r\n--B--\r\n")
    e = parse(raw, LIMITS)
    assert e.new_text == "See below what the newspaper sent me."
    assert "We stand by our story." in e.quoted_text and e.forwarded == ("Your complaint",)


def test_limits_record_headers_only_with_a_reason():
    big = b"From: a@b.org\r\nSubject: huge\r\nMessage-ID: <h@x>\r\n\r\n" + b"x" * 6_000_000
    e = parse(big, LIMITS)
    assert e.parse_error and "over the limit" in e.parse_error
    assert (e.subject, e.message_id, e.text) == ("huge", "<h@x>", "")
    parts = b"".join(b"--P\r\nContent-Type: text/plain\r\n\r\nx\r\n" for _ in range(300))
    many = b"From: a@b.org\r\nContent-Type: multipart/mixed; boundary=P\r\n\r\n" + parts + b"--P--\r\n"
    assert "MIME parts" in parse(many, LIMITS).parse_error


def test_deep_nesting_and_garbage_do_not_raise():
    nested = b"From: a@b.org\r\nSubject: deep\r\n"
    for i in range(3000):
        nested += f"Content-Type: multipart/mixed; boundary=b{i}\r\n\r\n--b{i}\r\n".encode()
    e = parse(nested, LimitsConfig(50_000_000, 10_000, 1000))
    assert e.subject == "deep"
    for junk in (b"", b"\x00\x00\x00", b"\r\n\r\n", "Subject: \u202eevil\u202c\x07\r\n\r\nbody".encode()):
        e = parse(junk, LIMITS)
        assert "\u202e" not in e.subject and "\x07" not in e.subject
