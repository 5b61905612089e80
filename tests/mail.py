"""Building realistic test messages as bytes."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid


def message(sender: str, subject: str, body: str, *, to: str = "complaints@example.org",
            msgid: str | None = None, date: datetime | None = None, html: str | None = None,
            headers: dict[str, str] | None = None, attachments: list[tuple[str, bytes]] = ()) -> bytes:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = format_datetime(date or datetime.now(UTC))
    msg["Message-ID"] = msgid or make_msgid(idstring=uuid.uuid4().hex[:8], domain="mail.example.net")
    for k, v in (headers or {}).items():
        msg[k] = v
    msg.set_content(body)
    if html:
        msg.add_alternative(html, subtype="html")
    for name, data in attachments:
        msg.add_attachment(data, maintype="application", subtype="octet-stream", filename=name)
    return msg.as_bytes()


COMPLAINT = (
    "Dear IPSO,\n\n"
    "I wish to make a complaint about an article published in the Daily Mail on 3 November, "
    "headlined \"Council boss spent £40,000 on luxury trips\". The article is inaccurate: it "
    "states that I spent public money on holidays, but the trips were unpaid training courses I "
    "paid for myself, as the council's own accounts show. The paper never contacted me before "
    "publishing. I believe this breaches Clause 1 (Accuracy) of the Editors' Code.\n\n"
    "The article is online at https://www.dailymail.co.uk/news/article-1234567/council-boss.html\n\n"
    "Yours faithfully,\nMargaret Hollis\n"
)

FOLLOWUP = (
    "Hello,\n\nAs you asked, here is the date of the print edition: page 17 of the paper on "
    "3 November. I also attach my letter to the editor, which was never answered.\n\n"
    "Thank you,\nMargaret Hollis\n"
)

OUT_OF_OFFICE = (
    "Thank you for your email. I am out of the office until Monday 30 November with no access "
    "to email. For urgent matters please contact the newsdesk.\n"
)
