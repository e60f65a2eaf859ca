import functools
import re
import unicodedata
from typing import Any

import nh3

from inbox.errors import Invalid

# Turkish letters folded the way people type them on a keyboard without Turkish keys:
# "İSTANBUL", "ıstanbul" and "istanbul" are one word, "ışık" and "isik" too.
_TURKISH = str.maketrans({"İ": "i", "I": "i", "ı": "i", "Ş": "s", "ş": "s", "Ğ": "g", "ğ": "g",
                          "Ü": "u", "ü": "u", "Ö": "o", "ö": "o", "Ç": "c", "ç": "c"})


def fold(text: str) -> str:
    """Lower-case, Turkish-aware, accent-free form for search; used at index and at query time."""
    decomposed = unicodedata.normalize("NFKD", text.translate(_TURKISH).casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def terms(q: str) -> list[str]:
    """The words a search box query stands for, folded; a query of more than eight is cut there."""
    return re.findall(r"\w+", fold(q))[:8]


def matches(text: str, words: list[str]) -> list[tuple[int, int]]:
    """Where in the original text the words match, as search does: each one a word's prefix, folded.

    Spans cover whole words in the original characters ("Işık" for "isik", "İADE" for "iad"), so
    highlighting shows what a reader recognises; overlapping matches join into one span.
    """
    if not words:
        return []
    folded, origin = _folded_with_origin(text)
    pattern = re.compile(r"(?<!\w)(?:" + "|".join(re.escape(word) for word in words) + r")\w*")
    spans: list[tuple[int, int]] = []
    for found in pattern.finditer(folded):
        start, end = origin[found.start()], origin[found.end() - 1] + 1
        # Marks that fold to nothing (a decomposed dot above) belong to the letter before them.
        while end < len(text) and not _fold_letter(text[end]):
            end += 1
        if spans and start <= spans[-1][1]:
            spans[-1] = (spans[-1][0], max(end, spans[-1][1]))
        else:
            spans.append((start, end))
    return spans


# Texts repeat a few dozen letters: folding each once keeps a long email's highlighting under a millisecond.
_fold_letter = functools.lru_cache(maxsize=4096)(fold)


def _folded_with_origin(text: str) -> tuple[str, list[int]]:
    # fold() works letter by letter, so folding each character alone and remembering where each
    # folded character came from maps a match in the folded text back onto the original.
    parts: list[str] = []
    origin: list[int] = []
    for index, character in enumerate(text):
        folded = _fold_letter(character)
        parts.append(folded)
        origin += [index] * len(folded)
    return "".join(parts), origin


def excerpt(text: str, spans: list[tuple[int, int]], *, width: int = 180) -> tuple[str, list[tuple[int, int]]]:
    """About `width` characters of one line around the first match, and the spans moved to fit it."""
    line = " ".join(text.split())
    if line != text:
        # Collapsing whitespace moves every position: find the matches again in the single line.
        return excerpt(line, _respan(text, line, spans), width=width)
    if len(text) <= width:
        return text, spans
    first = spans[0][0] if spans else 0
    start = max(0, min(first - width // 3, len(text) - width))
    if start:
        # Start on a word, not in the middle of one.
        space = text.find(" ", start, first)
        start = space + 1 if space != -1 else start
    end = min(len(text), start + width)
    if end < len(text):
        space = text.rfind(" ", max(start, first), end)
        end = space if space > start else end
    prefix, suffix = ("…" if start else ""), ("…" if end < len(text) else "")
    shift = len(prefix) - start
    kept = [(max(a, start) + shift, min(b, end) + shift) for a, b in spans if b > start and a < end]
    return prefix + text[start:end] + suffix, kept


def _respan(text: str, line: str, spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    # Position i of `text` lands at new[i] in `line` (runs of whitespace become one space).
    new, at, previous_space = [], -1, True
    for character in text:
        space = character.isspace()
        if not (space and previous_space):
            at += 1
        new.append(max(at, 0))
        previous_space = space
    new.append(len(line))
    return [(new[a], min(new[b - 1] + 1, len(line))) for a, b in spans if new[a] < len(line)]


# Styles that lay a mail out; none that can cover the page or fetch anything (position, url()).
_STYLES = {"color", "background-color", "font-weight", "font-style", "font-size", "font-family", "text-align",
           "text-decoration", "line-height", "margin", "margin-left", "margin-right", "margin-top", "margin-bottom",
           "padding", "padding-left", "border", "border-left", "border-collapse", "width", "max-width",
           "vertical-align", "white-space"}
_ATTRIBUTES = {tag: {*names, "style"} for tag, names in nh3.ALLOWED_ATTRIBUTES.items()}
for _tag in ("p", "div", "span", "table", "td", "th", "tr", "blockquote", "font", "b", "i", "u", "strong", "em"):
    _ATTRIBUTES.setdefault(_tag, set()).add("style")


def _keep_attribute(tag: str, attribute: str, value: str) -> str | None:
    # A remote image is a read receipt for whoever sent it (tracking pixels): only the images
    # that came inside the message (cid:) are kept.
    if tag == "img" and attribute == "src" and not value.strip().lower().startswith("cid:"):
        return None
    return value


def sanitize_html(html: str) -> str:
    """HTML a customer sent, reduced to what is safe to show an agent: no scripts, no handlers, no
    remote images; links open elsewhere, never in the inbox."""
    return nh3.clean(html, attributes=_ATTRIBUTES, attribute_filter=_keep_attribute, filter_style_properties=_STYLES,
                     url_schemes={"http", "https", "mailto", "cid"}, link_rel="noopener noreferrer nofollow",
                     set_tag_attribute_values={"a": {"target": "_blank"}})


# Prefixes clients put before a subject they answer: English, Turkish (YNT, Cvp), German, Nordic.
_REPLY_PREFIX = re.compile(r"^\s*(?:(?:re|ynt|cvp|aw|sv|vs|antw)\s*(?:\[\d+\])?\s*:\s*)+", re.IGNORECASE)


def reply_subject(subject: str) -> str:
    """The subject of an answer to a mail with this subject: one "Re: ", never "Re: Re: YNT: "."""
    bare = _REPLY_PREFIX.sub("", subject).strip()
    return f"Re: {bare}" if bare else "Re:"


def preview(text: str, limit: int = 140) -> str:
    """One line for the inbox list."""
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1].rstrip() + "…"


def strip_nul(text: str) -> str:
    # PostgreSQL text cannot hold U+0000; WhatsApp bodies sometimes carry it.
    return text.replace("\x00", "")


def required(field: str, text: str, *, limit: int) -> str:
    """The text stripped; Invalid naming `field` when nothing is left or it is longer than `limit`."""
    stripped = text.strip()
    if not stripped:
        raise Invalid(field, "must not be empty")
    if len(stripped) > limit:
        raise Invalid(field, f"longer than {limit} characters")
    return stripped


def strip_nul_deep(value: Any) -> Any:
    """strip_nul through a JSON value (PostgreSQL's jsonb refuses U+0000 too): a mail's Message-ID,
    References or quoted history is the sender's text, NULs and all."""
    if isinstance(value, str):
        return strip_nul(value)
    if isinstance(value, dict):
        return {strip_nul(str(key)): strip_nul_deep(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [strip_nul_deep(item) for item in value]
    return value
