import unicodedata

import nh3

# Turkish letters folded the way people type them on a keyboard without Turkish keys:
# "İSTANBUL", "ıstanbul" and "istanbul" are one word, "ışık" and "isik" too.
_TURKISH = str.maketrans({"İ": "i", "I": "i", "ı": "i", "Ş": "s", "ş": "s", "Ğ": "g", "ğ": "g",
                          "Ü": "u", "ü": "u", "Ö": "o", "ö": "o", "Ç": "c", "ç": "c"})


def fold(text: str) -> str:
    """Lower-case, Turkish-aware, accent-free form for search; used at index and at query time."""
    decomposed = unicodedata.normalize("NFKD", text.translate(_TURKISH).casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def sanitize_html(html: str) -> str:
    """HTML a customer sent, reduced to what is safe to show an agent (no scripts, no handlers)."""
    return nh3.clean(html, url_schemes={"http", "https", "mailto", "cid"}, link_rel="noopener noreferrer nofollow")


def preview(text: str, limit: int = 140) -> str:
    """One line for the inbox list."""
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1].rstrip() + "…"


def strip_nul(text: str) -> str:
    # PostgreSQL text cannot hold U+0000; WhatsApp bodies sometimes carry it.
    return text.replace("\x00", "")
