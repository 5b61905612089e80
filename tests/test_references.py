"""Case references in all the ways people write them, and nothing else."""

from __future__ import annotations

import pytest

from triage.references import find_references, reference_in_message_id


@pytest.mark.parametrize(("text", "refs"), [
    ("04123-25", ["04123-25"]),
    ("re my complaint 4123-25 please", ["04123-25"]),
    ("04123/25", ["04123-25"]),
    ("ref 4123/25", ["04123-25"]),
    ("[Ref 04123-25]", ["04123-25"]),
    ("Ref: 04123-25", ["04123-25"]),
    ("IPSO ref 04123 25", ["04123-25"]),
    ("case number 04123-25 and reference 00077-26", ["04123-25", "00077-26"]),
    ("on 2025-11-03 at 10:30", []),
    ("call 0207 123 4567 or 01234-567890", []),
    ("the 2025-26 financial year", []),
    ("costs £1234-56", []),
    ("12/25/2025", []),
])
def test_find_references(text, refs):
    assert [r.reference for r in find_references(text)] == refs


def test_reference_in_our_message_ids():
    assert reference_in_message_id("<triage.00012-26.m5.abc@example.org>") == "00012-26"
    assert reference_in_message_id("<something@else>") is None
