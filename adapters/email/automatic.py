"""Mail no person wrote: auto-replies (RFC 3834 and what clients do instead) and bounces (RFC 3464 DSNs).

An auto-reply becomes a line in the thread that never reopens it or answers back; a bounce tells
which of our replies did not arrive, and why.
"""

from dataclasses import dataclass
from email.message import Message

from adapters.email import mime

_PRECEDENCE = {"bulk", "junk", "list", "auto_reply"}
# Subjects of out-of-office replies from clients that set no header (and Exchange, which also
# sets X-Auto-Response-Suppress).
_SUBJECTS = ("automatic reply:", "auto reply:", "autoreply:", "out of office", "otomatik yanıt:",
             "otomatik cevap:", "ofis dışında", "abwesenheitsnotiz", "automatische antwort")
_ROBOTS = ("mailer-daemon", "postmaster", "no-reply", "noreply", "do-not-reply", "donotreply")


@dataclass(frozen=True, slots=True)
class Bounce:
    # The Message-ID of our mail that bounced, with its <>.
    original_id: str
    reason: str
    # False for "delayed": the relay is still trying, the mail is not lost yet.
    failed: bool


def auto_reply(message: Message, *, envelope_from: str | None) -> str | None:
    """Why this mail is automatic (the header that says so), or None for a person's mail.

    `envelope_from` is the SMTP MAIL FROM ("" for the null sender <>); None when unknown (IMAP).
    """
    submitted = mime.header(message, "Auto-Submitted").lower()
    if submitted and submitted.split()[0].split("(")[0] != "no":
        return f"Auto-Submitted: {submitted}"
    if mime.header(message, "X-Autoreply").lower() == "yes" or message.get("X-Autorespond") is not None:
        return "X-Autoreply"
    precedence = mime.header(message, "Precedence").lower()
    if precedence in _PRECEDENCE:
        return f"Precedence: {precedence}"
    if message.get("X-Auto-Response-Suppress") is not None:
        return "X-Auto-Response-Suppress"
    if message.get("List-Id") is not None or message.get("List-Unsubscribe") is not None:
        return "mailing list"
    if envelope_from == "" or mime.header(message, "Return-Path") == "<>":
        return "null sender"
    subject = mime.header(message, "Subject").lower()
    if subject.startswith(_SUBJECTS):
        return "subject"
    _, address = mime.sender(message)
    if address.split("@")[0].lower() in _ROBOTS:
        return "sender"
    return None


def bounce(message: Message) -> Bounce | None:
    """The DSN in a multipart/report; None when this is not one we can read."""
    if message.get_content_type() != "multipart/report" or not message.is_multipart():
        return None
    status_part = original = None
    for part in message.get_payload():
        if not isinstance(part, Message):
            continue
        kind = part.get_content_type()
        if kind == "message/delivery-status":
            status_part = part
        elif kind in ("message/rfc822", "text/rfc822-headers"):
            original = part
    original_id = _original_id(original) if original is not None else None
    if status_part is None or original_id is None:
        return None
    blocks = [block for block in status_part.get_payload() if isinstance(block, Message)]
    # The first block is about the report itself; each one after is a recipient.
    for block in blocks[1:] or blocks:
        action = mime.header(block, "Action").lower()
        if action not in ("failed", "delayed"):
            continue
        status = mime.header(block, "Status")
        diagnostic = mime.header(block, "Diagnostic-Code").split(";", 1)[-1].strip()
        remote = mime.header(block, "Remote-MTA").split(";", 1)[-1].strip()
        said = diagnostic or (f"status {status}" if status else "no reason given")
        reason = f"bounced by {remote}: {said}" if remote else f"bounced: {said}"
        return Bounce(original_id, reason, failed=action == "failed")
    return None


def _original_id(part: Message) -> str | None:
    if part.get_content_type() == "message/rfc822":
        inner = part.get_payload(0) if part.is_multipart() else None
        headers = inner if isinstance(inner, Message) else None
    else:
        # text/rfc822-headers: the original's header block as text.
        headers = mime.read(mime.text_of(part).replace("\n", "\r\n").encode("utf-8", "replace"))
    if headers is None:
        return None
    ids = mime.header_ids(headers, "Message-ID")
    return ids[0] if ids else None
