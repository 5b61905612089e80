"""Header rules that mark machine-generated mail, each with its reason."""

from __future__ import annotations

import pytest

from tests.mail import message
from triage.automated import automated_reason
from triage.config import LimitsConfig
from triage.message import parse

LIMITS = LimitsConfig(5_000_000, 200, 100_000)


@pytest.mark.parametrize(("headers", "subject", "sender", "reason"), [
    ({"Auto-Submitted": "auto-replied"}, "Re: hello", "a@b.org", "Auto-Submitted: auto-replied"),
    ({"Precedence": "bulk"}, "News", "a@b.org", "Precedence: bulk"),
    ({"List-Unsubscribe": "<mailto:u@x>"}, "News", "a@b.org", "list-unsubscribe header"),
    ({"List-Id": "<press.x>"}, "News", "a@b.org", "list-id header"),
    ({"X-Autoreply": "yes"}, "Re: hello", "a@b.org", "x-autoreply header"),
    ({}, "Automatic reply: Complaint", "a@b.org", "subject starts"),
    ({}, "Undeliverable: Your complaint", "a@b.org", "subject starts"),
    ({}, "Delivery failure", "MAILER-DAEMON@mx.example.org", "is a mail system"),
    ({}, "whatever", "mailer-daemon@mx.example.org", "is a mail system"),
    ({"Return-Path": "<>"}, "x", "a@b.org", "null sender"),
])
def test_rules_name_their_reason(headers, subject, sender, reason):
    e = parse(message(sender, subject, "body", headers=headers), LIMITS)
    assert reason in (automated_reason(e) or "")


def test_human_mail_is_not_automated():
    for headers in ({}, {"Auto-Submitted": "no"}, {"Precedence": "first-class"}):
        e = parse(message("a@b.org", "Complaint about The Sun", "I read it.", headers=headers), LIMITS)
        assert automated_reason(e) is None
    # "Re: Read receipt policy" is a person writing about receipts, not a receipt
    assert automated_reason(parse(message("a@b.org", "Readers' editor", "x"), LIMITS)) is None


def test_bounce_and_read_receipt_reports():
    raw = (b"From: postmaster@mx.example.org\r\nSubject: failure\r\nMIME-Version: 1.0\r\n"
           b"Content-Type: multipart/report; report-type=delivery-status; boundary=R\r\n\r\n"
           b"--R\r\nContent-Type: text/plain\r\n\r\nCould not deliver.\r\n--R--\r\n")
    assert "bounce" in automated_reason(parse(raw, LIMITS))
    mdn = raw.replace(b"delivery-status", b"disposition-notification").replace(b"postmaster", b"jo")
    assert "read receipt" in automated_reason(parse(mdn, LIMITS))
