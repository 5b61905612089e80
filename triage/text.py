"""Pure text helpers: HTML to plain text, and separating new text from quotes.

Nothing here knows about MIME, IMAP or the database; every function takes and
returns strings so that it can be tested on its own.
"""

from __future__ import annotations

import re
import zlib
from html import unescape
from html.parser import HTMLParser

_BLOCK_TAGS = frozenset([
    "p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "table", "ul", "ol", "dl",
    "dt", "dd", "pre", "hr", "section", "article", "header", "footer", "address", "center",
])
_SKIP_TAGS = frozenset({"script", "style", "head", "title", "template", "noscript"})
# Containers that mail clients use for the quoted earlier message.
_QUOTE_MARKERS = re.compile(
    r"gmail_quote|yahoo_quoted|moz-cite-prefix|divRplyFwdMsg|OLK_SRC_BODY_SECTION|"
    r"appendonsend|protonmail_quote|zmail_extra|mail_quote|x_divRplyFwdMsg",
    re.I,
)


class _HtmlToText(HTMLParser):
    """Collects visible text; text inside <blockquote> or a client's quote container
    is prefixed with '> ' so that quote splitting treats HTML and plain alike."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.skip = 0
        self.quote_depth = 0
        self.stack: list[tuple[str, bool]] = []
        self.line: list[str] = []

    def _flush(self) -> None:
        text = re.sub(r"[ \t\u00a0]+", " ", "".join(self.line)).strip()
        prefix = "> " * self.quote_depth
        self.out.append(prefix + text if text else "")
        self.line = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP_TAGS:
            self.skip += 1
            return
        quoting = tag == "blockquote" or any(
            v and _QUOTE_MARKERS.search(v) for k, v in attrs if k in ("class", "id")
        )
        if tag in _BLOCK_TAGS or quoting:
            self._flush()
        if tag not in ("br", "hr", "img", "meta", "link", "input"):
            self.stack.append((tag, quoting))
            if quoting:
                self.quote_depth += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP_TAGS:
            self.skip = max(0, self.skip - 1)
            return
        if tag in _BLOCK_TAGS or tag == "blockquote":
            self._flush()
        for i in range(len(self.stack) - 1, -1, -1):
            if self.stack[i][0] == tag:
                for _, quoting in self.stack[i:]:
                    if quoting:
                        self._flush()
                        self.quote_depth = max(0, self.quote_depth - 1)
                del self.stack[i:]
                break

    def handle_data(self, data: str) -> None:
        if not self.skip:
            self.line.append(data.replace("\n", " "))

    def text(self) -> str:
        self._flush()
        return _collapse_blank_lines("\n".join(self.out))


def _collapse_blank_lines(text: str) -> str:
    return re.sub(r"\n(?:[ \t>]*\n){2,}", "\n\n", text).strip("\n")


def html_to_text(html: str) -> str:
    """Visible text of an HTML body, with quoted blocks marked by '> '."""
    parser = _HtmlToText()
    try:
        parser.feed(html)
        parser.close()
    except Exception:
        return unescape(re.sub(r"<[^>]*>", " ", html))
    return parser.text()


# Lines that start the quoted part of a reply or forward, in the clients and
# languages the team sees. Each is matched against one line (or two joined
# lines, since clients wrap long attributions).
_ATTRIBUTION = re.compile(
    r"""^\s*(
        On\s.{1,200}?\bwrote:\s*$                         # Gmail / Apple Mail
      | .{1,200}?\bwrote:\s*$                            # "Name wrote:"
      | Le\s.{1,200}?a\sécrit\s?:\s*$                    # French
      | Am\s.{1,200}?schrieb.{0,80}:\s*$                 # German
      | El\s.{1,200}?escribió:\s*$                       # Spanish
      | W\sdniu\s.{1,200}?(napisał|napisała).{0,40}:\s*$ # Polish
      | Il\s.{1,200}?ha\sscritto:\s*$                    # Italian
      | Op\s.{1,200}?schreef.{0,60}:\s*$                 # Dutch
      | -{2,}\s*Original\sMessage\s*-{2,}                # Outlook (old)
      | -{2,}\s*Forwarded\smessage\s*-{2,}               # Gmail forward
      | -{2,}\s*Weitergeleitete\sNachricht\s*-{2,}
      | -{2,}\s*Message\stransféré\s*-{2,}
      | Begin\sforwarded\smessage:                       # Apple Mail forward
      | _{10,}\s*$                                        # Outlook separator line
    )""",
    re.I | re.X,
)
# An Outlook header block: "From:" followed within a few lines by Sent/Date and Subject/To.
_OUTLOOK_FROM = re.compile(r"^\s*\*?(From|Von|De|Van|Od)\s*:\*?\s*\S", re.I)
_OUTLOOK_NEXT = re.compile(
    r"^\s*\*?(Sent|Date|Gesendet|Envoyé|Enviado|Verzonden|Wysłano|To|Subject|Cc)\s*:", re.I
)
_SIGNATURE_MOBILE = re.compile(
    r"^\s*(Sent from my \w+|Sent from (Outlook|Mail) for \w+|Get Outlook for \w+|"
    r"Sent from Yahoo Mail.*|Envoyé de mon \w+|Von meinem \w+ gesendet)\s*$",
    re.I,
)


def _is_outlook_block(lines: list[str], i: int) -> bool:
    if not _OUTLOOK_FROM.match(lines[i]):
        return False
    following = [ln for ln in lines[i + 1 : i + 6] if ln.strip()]
    return sum(1 for ln in following[:4] if _OUTLOOK_NEXT.match(ln)) >= 2


def _quote_start(lines: list[str]) -> int | None:
    """Index of the first line of quoted material, or None when there is none."""
    for i, line in enumerate(lines):
        if line.lstrip().startswith(">") and _quoted_run(lines, i) >= 1:
            return _include_attribution(lines, i)
        if _ATTRIBUTION.match(line):
            return i
        joined = line + " " + lines[i + 1] if i + 1 < len(lines) else ""
        if i > 0 and joined and re.match(r"^\s*On\s.{1,250}?\bwrote:\s*$", joined, re.I | re.S):
            return i
        if _is_outlook_block(lines, i):
            return i
    return None


def _quoted_run(lines: list[str], i: int) -> int:
    n = 0
    while i + n < len(lines) and lines[i + n].lstrip().startswith(">"):
        n += 1
    return n


def _include_attribution(lines: list[str], i: int) -> int:
    """Step back over a blank line and an attribution line above a '>' block."""
    j = i - 1
    while j >= 0 and not lines[j].strip():
        j -= 1
    if j >= 0 and re.search(r"(wrote|écrit|schrieb|escribió|napisał\w*|scritto|schreef)\s*:\s*$",
                            lines[j], re.I):
        if j > 0 and re.match(r"^\s*On\s", lines[j - 1], re.I) and not lines[j - 1].rstrip().endswith(":"):
            return j - 1
        return j
    return i


def split_quoted(text: str) -> tuple[str, str]:
    """Split a plain-text body into (new text, quoted text).

    The new text is what the sender wrote themselves, with mobile signatures
    removed; the quoted text is everything from the first reply attribution,
    '>'-quoted block, Outlook header block or forward marker onwards, with the
    '>' markers stripped. Quoted lines interleaved with replies (inline
    answering) stay in the new text.
    """
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    start = _quote_start(lines)
    new_lines = lines if start is None else lines[:start]
    quoted_lines = [] if start is None else lines[start:]
    new = "\n".join(ln for ln in new_lines if not _SIGNATURE_MOBILE.match(ln))
    quoted = "\n".join(re.sub(r"^\s*(>\s?)+", "", ln) for ln in quoted_lines)
    return _collapse_blank_lines(new).strip(), _collapse_blank_lines(quoted).strip()


_WS = re.compile(r"\s+")


def normalise_space(text: str) -> str:
    """Collapse runs of whitespace to one space."""
    return _WS.sub(" ", text).strip()


# C0 and C1 controls (tab and newline are kept), Unicode line/paragraph separators,
# zero-width and bidirectional marks, embeddings, overrides and isolates.
_CONTROL = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff]")


def strip_controls(text: str) -> str:
    """Remove control characters and bidirectional overrides (keep tab/newline)."""
    return _CONTROL.sub("", text)


def one_line(text: str, limit: int = 200) -> str:
    """A single safe line: no controls, no CR/LF, at most ``limit`` characters."""
    flat = normalise_space(strip_controls(text.replace("\n", " ").replace("\r", " ")))
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


_WORD = re.compile(r"\w+")


def shingles(text: str, n: int) -> set[int]:
    """Stable (process-independent) hashes of the word ``n``-grams of ``text``."""
    words = _WORD.findall(text.lower())
    if len(words) < n:
        return {zlib.crc32(" ".join(words).encode())} if words else set()
    return {zlib.crc32(" ".join(words[i:i + n]).encode()) for i in range(len(words) - n + 1)}


def jaccard(x: set[int], y: set[int]) -> float:
    """Jaccard similarity of two sets (0 when both are empty)."""
    return len(x & y) / max(1, len(x | y))
