"""Separating what a sender wrote from what they quoted, in the clients people use."""

from __future__ import annotations

from triage.text import html_to_text, one_line, split_quoted


def test_gmail_reply():
    new, quoted = split_quoted("Thanks, that's the date.\n\nOn Mon, 2 Nov 2026 at 10:03, IPSO "
                               "Complaints <complaints@ipso.co.uk> wrote:\n> Please send the date.\n>\n> Regards")
    assert new == "Thanks, that's the date." and quoted.startswith("On Mon") and "Please send" in quoted


def test_wrapped_gmail_attribution():
    new, quoted = split_quoted("Yes please.\n\nOn Mon, 2 Nov 2026 at 10:03, IPSO Complaints\n"
                               "<complaints@ipso.co.uk> wrote:\n> Do you want to pursue it?")
    assert new == "Yes please." and "pursue" in quoted


def test_outlook_header_block_and_separator():
    body = ("I do not accept this.\n\n________________________________\nFrom: IPSO <c@ipso.co.uk>\n"
            "Sent: 02 November 2026 10:00\nTo: me\nSubject: Decision\n\nWe have decided...")
    new, quoted = split_quoted(body)
    assert new == "I do not accept this." and quoted.endswith("We have decided...")
    body2 = "Comments below.\n\nFrom: Jane <j@x.org>\nSent: Monday\nTo: IPSO\nSubject: Re: x\n\nOld text"
    assert split_quoted(body2) == ("Comments below.", "From: Jane <j@x.org>\nSent: Monday\nTo: IPSO\nSubject: Re: x\n\nOld text")


def test_forward_and_mobile_signature():
    new, quoted = split_quoted("See this.\n\nSent from my iPhone\n\n---------- Forwarded message ---------\n"
                               "From: editor@x\nSubject: re\n\nNo.")
    assert new == "See this." and quoted.startswith("---------- Forwarded message")


def test_no_quote_keeps_everything():
    assert split_quoted("Line one.\nThe editor wrote to me on Monday.\n") == (
        "Line one.\nThe editor wrote to me on Monday.", "")


def test_html_to_text_marks_blockquotes_and_drops_scripts():
    text = html_to_text("<p>Hello&nbsp;there</p><script>x()</script><blockquote>old <b>text</b></blockquote>")
    assert text == "Hello there\n\n> old text"


def test_one_line_strips_controls_and_bidi_overrides():
    assert one_line("Re: a\r\nBcc: evil@x.org\u202e\x00", 200) == "Re: a Bcc: evil@x.org"
    assert len(one_line("x" * 500, 50)) == 50
