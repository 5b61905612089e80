"""Case references: five digits, a dash, the two-digit year (``04123-25``).

People write them many ways (``4123-25``, ``04123/25``, ``ref 4123/25``,
``[Ref 04123-25]``, ``IPSO ref 04123 25``). :func:`find_references` returns
the canonical forms found in a text, most explicit first; a bare number is
only accepted when it cannot be part of a date, a phone number or a price.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# A reference introduced by a word that says so: "ref", "reference", "case", "our ref".
_LABELLED = re.compile(
    r"""(?ix)
    \b(?:ref(?:erence)?|case(?:\s*(?:no|number|ref))?|complaint\s*(?:no|number|ref)?)\.?
    \s*(?:no\.?|number|\#)?\s*[:\-#]?\s*
    (?<![\d])(\d{3,5})\s*[-/\s]\s*(\d{2})(?![\d/\-.:])"""
)
# A bare reference: exactly 4-5 digits, dash or slash, two digits, not glued to
# other digits, dates (2025-11-03), times, prices or phone numbers.
_BARE = re.compile(r"(?<![\d/\-.:£$€+])(\d{4,5})[-/](\d{2})(?![\d/\-.:])")


@dataclass(frozen=True)
class FoundReference:
    reference: str
    labelled: bool


def canonical(number: str | int, year: str | int) -> str:
    return f"{int(number):05d}-{int(year):02d}"


def find_references(text: str, years: range | None = None) -> list[FoundReference]:
    """Canonical references in ``text`` (labelled ones first), without repeats.

    ``years`` limits the two-digit years accepted (default 10..99), which keeps
    e.g. "1998-00" out.
    """
    allowed = years or range(10, 100)
    found: dict[str, FoundReference] = {}
    for pattern, labelled in ((_LABELLED, True), (_BARE, False)):
        for m in pattern.finditer(text):
            number, year = m.group(1), m.group(2)
            if int(year) not in allowed or int(number) == 0:
                continue
            if not labelled and _looks_like_year(number):
                continue
            ref = canonical(number, year)
            found.setdefault(ref, FoundReference(ref, labelled))
    return list(found.values())


def _looks_like_year(number: str) -> bool:
    """'2025-26' is a financial year, not a case reference."""
    return len(number) == 4 and number.startswith(("19", "20"))


_DRAFT_ID = re.compile(r"<triage\.(\d{5}-\d{2})\.")


def reference_in_message_id(message_id: str) -> str | None:
    """The case reference encoded in one of our own draft Message-IDs."""
    m = _DRAFT_ID.match(message_id or "")
    return m.group(1) if m else None
