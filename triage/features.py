"""What the classifier sees of a message: four text columns.

``subject``, ``new`` (what the sender wrote), ``quoted`` (earlier messages
and forwards) and ``signals`` (structured facts as tokens: the sender is a
member publication, a case reference is present, it is a reply, it has
attachments...). Keeping the model's input to plain strings means the saved
model holds only standard scikit-learn parts, which skops can load without
trusting any code of ours. Training and production both build rows here, so
they see the same parsing and normalisation.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

from triage.lexicon import lexicon_tokens, sentence_tokens, sentences
from triage.message import Email
from triage.publications import PublicationIndex
from triage.references import find_references

FEATURE_VERSION = 4
COLUMNS = ("subject", "new", "quoted", "signals", "ends")

_URL = re.compile(r"https?://\S+|www\.\S+", re.I)
_EMAIL = re.compile(r"\b[\w.+-]+@[\w-]+(\.[\w-]+)+\b")
_REF = re.compile(r"(?<!\d)\d{3,5}\s?[-/]\s?\d{2}(?!\d)")
_PHONE = re.compile(r"(?<!\w)(\+?\d[\d ]{8,}\d)(?!\w)")
_DIGITS = re.compile(r"\d+")
_LETTER = re.compile(r"[^\W\d_]")
_UPPER = re.compile(r"[A-ZÀ-ÖØ-Þ]")
_FREEMAIL = frozenset([
    "gmail.com", "googlemail.com", "hotmail.com", "hotmail.co.uk", "outlook.com", "live.com",
    "live.co.uk", "yahoo.com", "yahoo.co.uk", "icloud.com", "me.com", "aol.com", "btinternet.com",
    "sky.com", "virginmedia.com", "talktalk.net", "protonmail.com", "proton.me", "gmx.com",
    "gmx.de", "mail.com", "msn.com", "ntlworld.com", "blueyonder.co.uk", "tiscali.co.uk", "wp.pl",
    "onet.pl", "o2.pl", "interia.pl", "yandex.ru",
])
_LAW = re.compile(r"(law|legal|solicitor|llp|chambers|lawyer|advocat)", re.I)


def normalise(text: str) -> str:
    """Replace volatile details (links, addresses, references, numbers) by
    placeholder words so the model learns the kind of thing, not the instance."""
    text = _URL.sub(" zzurl ", text)
    text = _EMAIL.sub(" zzemail ", text)
    text = _REF.sub(" zzref ", text)
    text = _PHONE.sub(" zzphone ", text)
    return _DIGITS.sub("0", text)


def _length_bin(n: int) -> str:
    for limit, name in ((1, "empty"), (80, "tiny"), (300, "short"), (1500, "medium")):
        if n < limit:
            return name
    return "long"


def signals(email: Email, pubs: PublicationIndex) -> list[str]:
    """Structured facts about ``email`` as tokens (see module doc)."""
    sig = [f"new_{_length_bin(len(email.new_text))}", f"quoted_{_length_bin(len(email.quoted_text))}"]
    domain = email.from_domain
    if pubs.describe_sender(email.from_addr):
        sig.append("sender_publication")
    elif domain in _FREEMAIL:
        sig.append("sender_freemail")
    elif _LAW.search(domain):
        sig.append("sender_law")
    else:
        sig.append("sender_other")
    refs = find_references(email.subject + "\n" + email.text)
    if refs:
        sig.append("has_ref")
    if find_references(email.subject):
        sig.append("ref_in_subject")
    if find_references(email.new_text):
        sig.append("ref_in_new")
    if email.is_reply:
        sig.append("is_reply")
    if re.match(r"^\s*(fwd?|fw)\s*:", email.subject, re.I) or email.forwarded:
        sig.append("is_forward")
    if email.attachments:
        sig.append("has_attachment")
    if not email.subject.strip():
        sig.append("subject_empty")
    if pubs.mentioned(email.subject + " " + email.new_text):
        sig.append("mentions_member")
    letters = len(_LETTER.findall(email.new_text[:5000]))
    if letters > 40 and len(_UPPER.findall(email.new_text[:5000])) > 0.6 * letters:
        sig.append("shouting")
    if email.parse_error:
        sig.append("parse_failed")
    lex = lexicon_tokens(email.subject + "\n" + email.new_text)
    sig += lex
    sig += sentence_tokens(email.subject, email.new_text)
    if "lex_nonmember" in lex and "mentions_member" not in sig:
        sig.append("nonmember_only")
    return sig


_GREETING = re.compile(r"^(dear|hi|hello|hiya|good (morning|afternoon|evening)|to)\b[^.!?\n]{0,40}$", re.I)


def ends(text: str) -> str:
    """The opening and closing sentences of the new text (where people say what
    they want), skipping greetings and sign-offs: the two longest-lived cues of
    intent get a view of their own."""
    sents = [s for s in sentences(text[:20_000]) if len(s) > 25 and not _GREETING.match(s)]
    if len(sents) <= 3:
        return " ".join(sents)
    return " ".join(sents[:2] + sents[-1:])


def row(email: Email, pubs: PublicationIndex) -> tuple[str, ...]:
    """The model input for one message."""
    return (
        normalise(email.subject),
        normalise(email.new_text[:20_000]) or normalise(email.text[:2000]),
        normalise(email.quoted_text[:5_000]),
        " ".join(signals(email, pubs)),
        normalise(ends(email.new_text)),
    )


def matrix(rows: Sequence[tuple[str, ...]]) -> np.ndarray:
    """Rows as the 2-D object array the model's ColumnTransformer expects."""
    out = np.empty((len(rows), len(COLUMNS)), dtype=object)
    for i, r in enumerate(rows):
        out[i, :] = r
    return out
