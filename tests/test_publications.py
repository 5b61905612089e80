"""Finding member titles in text and by sender (pure functions over the shipped list)."""

from __future__ import annotations

from pathlib import Path

from triage.publications import PublicationIndex, read_csv

PUBS = PublicationIndex(read_csv(Path(__file__).resolve().parents[1] / "data" / "publications.csv"))


def names(text: str) -> list[str]:
    return [p.name for p in PUBS.mentioned(text)]


def test_titles_are_found_by_name_alias_and_web_address():
    assert names("I read it in the Yorkshire Post and on thesun.co.uk") == ["Yorkshire Post", "The Sun"]
    assert names("Mail on Sunday, page 4") == ["Daily Mail"]


def test_a_title_that_is_an_ordinary_word_needs_the_or_a_press_word_after_it():
    assert names("Times were hard and the metro was late; a shooting star.") == []
    assert names("the times were hard") == []
    assert names("The Metro column about me") == ["Metro"]
    assert names("Metro column - me") == ["Metro"]
    assert names("A Spectator article said") == ["The Spectator"]
    assert names("sun article") == []


def test_a_sender_is_known_by_contact_domain_or_subdomain_and_shared_domains_name_the_group():
    assert PUBS.describe_sender("complaints@thesun.co.uk") == "The Sun"
    assert PUBS.describe_sender("legal@news.thesun.co.uk") == "The Sun"
    assert PUBS.describe_sender("someone@gmail.com") is None
    assert PUBS.describe_sender("lawyer@reachplc.com") == "Reach plc (publisher group)"
