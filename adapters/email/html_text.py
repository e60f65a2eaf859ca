"""Readable text from an HTML-only mail, for the thread, search and the list's preview.

The HTML itself is kept (sanitized by ingest) for the agent to view; this is only its text, with
the line breaks a reader expects and quoted blocks marked "> " so the quoted history folds away
as it does in a plain-text reply.
"""

from html.parser import HTMLParser

_BLOCKS = {"p", "div", "section", "article", "header", "footer", "table", "tr", "ul", "ol", "h1", "h2", "h3",
           "h4", "h5", "h6", "pre", "hr", "address", "center"}
_SKIPPED = {"script", "style", "head", "title", "template", "noscript"}


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.lines: list[str] = [""]
        self.skipping = 0
        self.quoted = 0
        self.link: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIPPED:
            self.skipping += 1
        elif tag == "blockquote":
            self._break()
            self.quoted += 1
        elif tag == "br":
            self._break(force=True)
        elif tag == "a":
            href = dict(attrs).get("href") or ""
            self.link = href if href.startswith(("http://", "https://")) else None
        elif tag == "li":
            self._break()
            self._write("- ")
        elif tag in ("td", "th"):
            self._write(" ")
        elif tag == "p":
            self._paragraph()
        elif tag in _BLOCKS:
            self._break()

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self.link:
            # Where a link goes matters to an agent ("track it here"); the text alone hides it.
            if self.link not in self.lines[-1]:
                self._write(f" <{self.link}>")
            self.link = None
        elif tag in _SKIPPED:
            self.skipping = max(0, self.skipping - 1)
        elif tag == "blockquote":
            self._break()
            self.quoted = max(0, self.quoted - 1)
        elif tag == "p":
            self._paragraph()
        elif tag in _BLOCKS or tag == "li":
            self._break()

    def handle_data(self, data: str) -> None:
        if self.skipping:
            return
        words = " ".join(data.split())
        if not words:
            if data and self.lines[-1] and not self.lines[-1].endswith(" "):
                self._write(" ")
            return
        if data[:1].isspace() and self.lines[-1] and not self.lines[-1].endswith(" "):
            self._write(" ")
        self._write(words)
        if data[-1:].isspace():
            self._write(" ")

    def _write(self, text: str) -> None:
        if not self.lines[-1] and self.quoted:
            self.lines[-1] = "> " * self.quoted
        self.lines[-1] += text

    def _paragraph(self) -> None:
        self._break()
        if len(self.lines) > 1 and self.lines[-2].strip("> "):
            self.lines.append("")

    def _break(self, *, force: bool = False) -> None:
        if force or self.lines[-1].strip("> "):
            self.lines.append("")


def html_to_text(html: str) -> str:
    parser = _Text()
    try:
        parser.feed(html)
        parser.close()
    except Exception:  # HTMLParser copes with nearly anything; what it does not is shown as it came
        return html
    lines = [line.rstrip() for line in parser.lines]
    text: list[str] = []
    for line in lines:
        # At most one blank line in a row: tables and nested divs leave many.
        if not line and text and not text[-1]:
            continue
        text.append(line)
    return "\n".join(text).strip()
