"""The members' publications list: names, aliases, e-mail domains, contacts.

:class:`PublicationIndex` is a pure lookup (sender domain → publication, text →
publications it names) used by the classifier's features and by case
matching. CSV import/export keeps the list in the database up to date.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from triage.errors import ConfigError

CSV_COLUMNS = ("name", "aliases", "domains", "contact", "group")


@dataclass(frozen=True)
class PublicationInfo:
    name: str
    aliases: tuple[str, ...]
    domains: tuple[str, ...]
    contact: str
    group: str


def _split(value: str) -> tuple[str, ...]:
    return tuple(v.strip() for v in (value or "").split(";") if v.strip())


def read_csv(path: Path) -> list[PublicationInfo]:
    """Parse a publications CSV; raises ConfigError naming the line that is wrong."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read publications list: {exc.strerror}") from None
    return parse_csv(text, str(path))


def parse_csv(text: str, source: str = "publications.csv") -> list[PublicationInfo]:
    reader = csv.DictReader(io.StringIO(text))
    missing = [c for c in ("name", "domains") if c not in (reader.fieldnames or [])]
    if missing:
        raise ConfigError(f"{source}: missing column(s) {', '.join(missing)}; "
                          f"expected {','.join(CSV_COLUMNS)}")
    out: dict[str, PublicationInfo] = {}
    for line, row in enumerate(reader, start=2):
        name = (row.get("name") or "").strip()
        if not name:
            raise ConfigError(f"{source}:{line}: empty name")
        domains = tuple(d.lower().lstrip("@") for d in _split(row.get("domains") or ""))
        bad = [d for d in domains if not re.fullmatch(r"[a-z0-9.-]+\.[a-z]{2,}", d)]
        if bad:
            raise ConfigError(f"{source}:{line}: {bad[0]!r} is not a domain")
        out[name] = PublicationInfo(name, _split(row.get("aliases") or ""), domains,
                                    (row.get("contact") or "").strip().lower(),
                                    (row.get("group") or "").strip())
    return list(out.values())


def write_csv(items: Iterable[PublicationInfo]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(CSV_COLUMNS)
    for p in sorted(items, key=lambda p: p.name.lower()):
        w.writerow([p.name, ";".join(p.aliases), ";".join(p.domains), p.contact, p.group])
    return buf.getvalue()


class PublicationIndex:
    """Finds publications by sender address or by the names and links in a text."""

    def __init__(self, items: Sequence[PublicationInfo]) -> None:
        self.items = list(items)
        self._by_domain: dict[str, PublicationInfo] = {}
        self._group_domains: dict[str, str] = {}
        self._by_contact: dict[str, PublicationInfo] = {}
        owners: dict[str, list[PublicationInfo]] = {}
        for p in self.items:
            for d in p.domains:
                owners.setdefault(d, []).append(p)
            if p.contact:
                self._by_contact[p.contact] = p
        for d, titles in owners.items():
            # A domain several titles share (reachplc.com) names the publisher
            # group, not a title.
            if len(titles) == 1:
                self._by_domain[d] = titles[0]
            else:
                self._group_domains[d] = titles[0].group or titles[0].name
        self._compile_names()

    def _compile_names(self) -> None:
        """Index every name, alias and web domain as a tuple of lower-case words,
        so that finding the titles a text names is a dictionary look-up per word
        sequence instead of one huge regular expression."""
        names: dict[tuple[str, ...], PublicationInfo] = {}
        for p in self.items:
            for n in (p.name, *p.aliases, *p.domains):
                words = tuple(w.lower() for w in _NAME_WORD.findall(n))
                # Short or generic aliases ("Times", "Record", "Echo") only count
                # with their article: "the times", "the echo".
                if words and len(" ".join(words)) >= 4:
                    names.setdefault(words, p)
        self._names = names
        # Name lengths by first word: most words of a text start no name at all.
        self._lengths: dict[str, list[int]] = {}
        for key in names:
            self._lengths.setdefault(key[0], []).append(len(key))
        for lengths in self._lengths.values():
            lengths.sort(reverse=True)

    def by_sender(self, address: str) -> PublicationInfo | None:
        """The title an address belongs to (its contact, domain or a subdomain)."""
        address = address.lower()
        if address in self._by_contact:
            return self._by_contact[address]
        return self._lookup(address.rpartition("@")[2], self._by_domain)

    def group_of_sender(self, address: str) -> str | None:
        """The publisher group of an address on a domain several titles share."""
        return self._lookup(address.lower().rpartition("@")[2], self._group_domains)

    def describe_sender(self, address: str) -> str | None:
        """'The Sun' or 'Reach plc (publisher group)' for a publication's address, else None."""
        pub = self.by_sender(address)
        if pub is not None:
            return pub.name
        group = self.group_of_sender(address)
        return f"{group} (publisher group)" if group else None

    def titles_in_group(self, group: str) -> list[PublicationInfo]:
        return [p for p in self.items if p.group == group or p.name == group]

    @staticmethod
    def _lookup(domain: str, table: dict[str, Any]) -> Any:
        while domain and "." in domain:
            if domain in table:
                return table[domain]
            domain = domain.partition(".")[2]
        return None

    def mentioned(self, text: str) -> list[PublicationInfo]:
        """Publications named in ``text`` (by name, alias or web address), in order of first mention."""
        original = _NAME_WORD.findall(text[:50_000])
        words = [w.lower() for w in original]
        seen: dict[str, PublicationInfo] = {}
        for i in range(len(words)):
            for n in self._lengths.get(words[i], ()):
                if n > len(words) - i:
                    continue
                key = tuple(words[i:i + n])
                p = self._names.get(key)
                if p is None:
                    continue
                if key[-1] in _AMBIGUOUS and (n == 1 or key == ("the", key[-1])) \
                        and not _titled(original, i + n - 1, words):
                    continue
                seen.setdefault(p.name, p)
                break
        return list(seen.values())


# Names that are ordinary words unless preceded by "the".
_AMBIGUOUS = frozenset({"metro", "times", "star", "express", "mirror", "echo", "record",
                        "herald", "independent", "standard", "argus", "spectator", "sun", "mail"})


# Words of a title or a web address: "mail on sunday", "thesun.co.uk" -> thesun co uk
_NAME_WORD = re.compile(r"[A-Za-z0-9&!']+")


# Words that, after a capitalised ordinary word, make it a title: "Times columnist".
_MEDIA_NOUNS = frozenset({
    "article", "articles", "column", "columns", "columnist", "headline", "headlines", "story",
    "stories", "piece", "report", "reporter", "reporters", "journalist", "journalists", "editor",
    "editors", "website", "online", "newspaper", "paper", "photographer", "feature", "obituary",
    "interview", "editorial", "front", "coverage", "writer", "correspondent", "newsdesk", "readers",
})


def _titled(words: list[str], i: int, lower: list[str]) -> bool:
    """An ordinary word used as a title: capitalised, after "the" ("the Echo") or
    before a word about the press ("Metro column", "Spectator article")."""
    if not words[i][:1].isupper():
        return False
    return (i > 0 and lower[i - 1] == "the") or (i + 1 < len(lower) and lower[i + 1] in _MEDIA_NOUNS)
