"""A mail's HTML as the agent views it: the sanitized copy ingest stored, in a document of its own.

It is served to a sandboxed frame under a CSP that allows no script and no request at all, so even
a sanitizer miss cannot run or phone home. The mail's own inline images (cid:) therefore travel
inside the document, as data: URLs, and only those of the image types the inbox shows inline.
"""

import base64
import html
import re
from collections.abc import Callable, Sequence

from inbox.messages.models import Attachment

# What the frame may do: show the mail, its styles and its own images, and open links in a new tab.
POLICY = ("default-src 'none'; img-src data:; style-src 'unsafe-inline'; "
          "sandbox allow-popups allow-popups-to-escape-sandbox")
INLINE_TYPES = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"})
# Larger inline images are left out of the document (they are in the attachments list).
MAX_INLINE_BYTES = 2 * 1024 * 1024
_CID = re.compile(r"""src=(["'])cid:([^"']+)\1""", re.IGNORECASE)


def document(body: str, *, cids: dict[str, int], files: Sequence[Attachment],
             read: Callable[[Attachment], bytes | None], title: str) -> str:
    def inline(found: re.Match[str]) -> str:
        index = cids.get(html.unescape(found.group(2)).strip("<>"))
        file = files[index] if index is not None and 0 <= index < len(files) else None
        data = read(file) if file is not None and file.content_type in INLINE_TYPES \
            and file.size <= MAX_INLINE_BYTES else None
        if data is None:
            return 'src=""'
        return f'src="data:{file.content_type};base64,{base64.b64encode(data).decode()}"'  # type: ignore[union-attr]

    return ('<!doctype html><html><head><meta charset="utf-8">'
            f"<title>{html.escape(title)}</title>"
            "<style>body{font:14px/1.45 system-ui,sans-serif;color:#1d2330;margin:12px;overflow-wrap:anywhere}"
            "img{max-width:100%;height:auto}blockquote{border-left:3px solid #e3e6ec;margin:0 0 0 4px;"
            "padding-left:10px;color:#687083}</style></head><body>" + _CID.sub(inline, body) + "</body></html>")
