"""Reading RFC 5322 bytes the way real mail needs: whatever the charset, whatever the damage.

The standard library (policy `default`) does the parsing; what is here are the fallbacks it does
not have. Senders mislabel Turkish text or name charsets Python does not know, so a text part is
decoded by its declared charset, then UTF-8, then windows-1254, and at worst Latin-1 with
replacement characters: a mail is always shown, never refused for its encoding.
"""

import contextlib
import email
import email.header
import email.policy
import functools
import mimetypes
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage, Message
from email.utils import getaddresses, parseaddr
from typing import Any

from adapters.email.html_text import html_to_text
from inbox.events import IncomingFile

_FALLBACKS = ("utf-8", "cp1254")


class _Policy(email.policy.EmailPolicy):
    """policy.default, each header text parsed once.

    The standard library parses a header again on every read (get_body alone reads Content-Type
    eight times), which was most of a mail's parse time; and the same texts recur from mail to
    mail ("text/plain; charset=utf-8"). Header objects are immutable, so one can serve them all.

    A header is read up to MAX_HEADER characters: the standard library's header parser takes time
    that grows faster than the header, so a 150 kB Subject held the event loop for seconds (and a
    32 MB one would hold it for hours). Nothing the inbox keeps from a header is that long.
    """

    def header_fetch_parse(self, name: str, value: str) -> Any:
        if hasattr(value, "name"):
            return super().header_fetch_parse(name, value)
        if len(value) > _CACHED_HEADER:
            return super().header_fetch_parse(name, value[:MAX_HEADER])
        return _parsed_header(name, value)


_CACHED_HEADER = 1000
# Longer than any header worth reading: References with a hundred ids is ~5 kB.
MAX_HEADER = 16 * 1024
_POLICY = _Policy()


@functools.lru_cache(maxsize=4096)
def _parsed_header(name: str, value: str) -> Any:
    return email.policy.EmailPolicy.header_fetch_parse(_POLICY, name, value)


@dataclass(frozen=True, slots=True)
class Body:
    text: str
    html: str | None
    files: tuple[IncomingFile, ...] = ()
    # Content-ID (without <>) → index in files: where an HTML body's cid: images are.
    cids: dict[str, int] = field(default_factory=dict)


def read(raw: bytes) -> EmailMessage:
    message = email.message_from_bytes(raw, policy=_POLICY)
    assert isinstance(message, EmailMessage)
    return message


def header(message: Message, name: str) -> str:
    """The header's text, RFC 2047 decoded (with charset fallbacks) and unfolded; "" when absent."""
    try:
        value = message.get(name)
    except Exception:  # a header the policy cannot even parse: its raw text below
        value = None
    text = str(value) if value is not None else ""
    if "\ufffd" in text or _has_surrogates(text) or (value is None and _raw(message, name)):
        text = _decoded_raw(_raw(message, name) or text)
    return " ".join(text.split())


def header_ids(message: Message, name: str) -> list[str]:
    """Message ids in Message-ID, In-Reply-To or References: each `<…>`, stripped, in order."""
    ids: list[str] = []
    # No control characters: an id is looked up and stored, and PostgreSQL refuses U+0000 in either.
    text = "".join(ch for ch in header(message, name) if ch.isprintable() or ch == " ")
    for token in text.replace(">", "> ").split():
        token = token.strip(",;")
        if token.startswith("<") and token.endswith(">") and len(token) > 2:
            ids.append(token)
    return ids


def sender(message: Message) -> tuple[str, str]:
    """(display name, address) of From; ("", "") when it names no address."""
    try:
        found = message["From"]
        addresses = getattr(found, "addresses", ()) if found is not None else ()
        for address in addresses:
            if address.username and address.domain:
                return " ".join(str(address.display_name).split()), f"{address.username}@{address.domain}"
    except Exception:
        pass
    # The structured parse failed (a defect): the plain RFC 2822 reading of the raw text.
    name, address = parseaddr(header(message, "From"))
    return (name, address) if "@" in address else ("", "")


def recipients(message: Message, *names: str) -> list[str]:
    values = [header(message, name) for name in names]
    return [address for _, address in getaddresses(values) if "@" in address]


def text_of(part: Message) -> str:
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        payload = str(part.get_payload() or "").encode("utf-8", "surrogateescape")
    declared = part.get_content_charset() or ""
    for charset in (declared, *_FALLBACKS):
        if not charset:
            continue
        with contextlib.suppress(LookupError, UnicodeDecodeError):
            return payload.decode(charset).replace("\r\n", "\n")
    return payload.decode("latin-1", errors="replace").replace("\r\n", "\n")


def body(message: EmailMessage) -> Body:
    plain = _body_part(message, "plain")
    rich = _body_part(message, "html")
    text = text_of(plain) if plain is not None else ""
    html = text_of(rich) if rich is not None else None
    files: list[IncomingFile] = []
    cids: dict[str, int] = {}
    extra_text: list[str] = []
    for part in _leaves(message):
        if part is plain or part is rich:
            continue
        if _is_inline_text(part):
            # A second text part (some clients split the body around an attachment).
            if part.get_content_subtype() == "plain":
                extra_text.append(text_of(part))
            continue
        content_id = header(part, "Content-ID").strip("<> ")
        if content_id:
            cids[content_id] = len(files)
        files.append(_file(part, len(files) + 1))
    if extra_text:
        text = "\n\n".join(piece for piece in (text, *extra_text) if piece.strip())
    if not text.strip() and html:
        text = html_to_text(html)
    return Body(text.strip("\n"), html, tuple(files), cids)


def _body_part(message: EmailMessage, subtype: str) -> Message | None:
    try:
        part = message.get_body(preferencelist=(subtype,))
    except Exception:
        return None
    if part is None and subtype == "plain" and message.get_content_maintype() == "text" \
            and message.get_content_subtype() != "html":
        # A lone text part the policy would not call a body (marked as an attachment): still what was sent.
        return message
    return part


def _leaves(part: Message) -> Iterator[Message]:
    # Not Message.walk(): a forwarded mail (message/rfc822) is one file, not more body parts.
    if part.get_content_maintype() == "multipart" and part.is_multipart():
        for sub in part.get_payload():
            if isinstance(sub, Message):
                yield from _leaves(sub)
    else:
        yield part


def _is_inline_text(part: Message) -> bool:
    return (part.get_content_maintype() == "text" and part.get_content_subtype() in ("plain", "html")
            and not part.get_filename() and part.get_content_disposition() != "attachment")


def _file(part: Message, number: int) -> IncomingFile:
    content_type = part.get_content_type()
    if content_type == "message/rfc822":
        inner = part.get_payload(0) if part.is_multipart() else None
        data = _as_bytes(inner) if isinstance(inner, Message) else b""
    else:
        payload = part.get_payload(decode=True)
        data = payload if isinstance(payload, bytes) else b""
    return IncomingFile(filename=_filename(part, content_type, number), content_type=content_type, data=data)


def _filename(part: Message, content_type: str, number: int) -> str:
    try:
        name = part.get_filename() or ""
    except Exception:
        name = ""
    # A name is the sender's text: no folders, no control characters.
    name = "".join(ch for ch in name.replace("\\", "/").rsplit("/", 1)[-1] if ch.isprintable()).strip(" .")
    if name:
        return name
    if content_type == "message/rfc822":
        return f"forwarded-{number}.eml"
    return f"attachment-{number}{mimetypes.guess_extension(content_type) or '.bin'}"


def _as_bytes(message: Message) -> bytes:
    try:
        return message.as_bytes(policy=email.policy.default.clone(linesep="\r\n"))
    except Exception:
        return str(message).encode("utf-8", "replace")


def _raw(message: Message, name: str) -> str | None:
    for key, value in message.raw_items():
        if key.lower() == name.lower():
            return str(value)
    return None


def _has_surrogates(text: str) -> bool:
    return any("\udc80" <= ch <= "\udcff" for ch in text)


def _decoded_raw(raw: str) -> str:
    # 8-bit bytes sent bare in a header arrive as surrogates: back to bytes, then the fallbacks.
    if _has_surrogates(raw):
        raw_bytes = raw.encode("ascii", "surrogateescape")
        return _decode_bytes(raw_bytes, "")
    try:
        chunks = email.header.decode_header(raw)
    except Exception:
        return raw
    return "".join(chunk if isinstance(chunk, str) else _decode_bytes(chunk, charset or "")
                   for chunk, charset in chunks)


def _decode_bytes(data: bytes, declared: str) -> str:
    for charset in (declared, *_FALLBACKS):
        if not charset:
            continue
        with contextlib.suppress(LookupError, UnicodeDecodeError):
            return data.decode(charset)
    return data.decode("latin-1", errors="replace")
