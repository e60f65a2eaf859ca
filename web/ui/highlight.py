"""Search words marked in customer text, safely: every piece of the text is escaped, only <mark> is ours."""

from markupsafe import Markup, escape

from inbox.text import excerpt, matches, terms


def highlight(text: str, q: str, *, width: int | None = None) -> Markup:
    """The text (or, given a width, a one-line excerpt around the first match) with each match in <mark>."""
    spans = matches(text, terms(q))
    if width is not None:
        text, spans = excerpt(text, spans, width=width)
    out, at = [], 0
    for start, end in spans:
        out += [escape(text[at:start]), Markup("<mark>"), escape(text[start:end]), Markup("</mark>")]
        at = end
    out.append(escape(text[at:]))
    return Markup("").join(out)
