"""An agent's reply as the mail a customer's client threads: our own Message-ID, In-Reply-To and
References chained to the customer's last mail, "Re:" kept, text with an HTML alternative, files."""

import html
import re
from datetime import UTC, datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path

from inbox.events import OutboundMessage

# The References header keeps the first id (the thread's root) and the newest ones: enough for
# every client to thread, short enough for every server's line limits.
MAX_REFERENCES = 20
_LINK = re.compile(r"https?://[^\s<>\"']+")


def compose(message: OutboundMessage, *, from_address: str, from_name: str, domain: str) -> EmailMessage:
    mail = EmailMessage()
    name = message.author_name or from_name
    mail["From"] = Address(display_name=name, addr_spec=from_address) if name else from_address
    mail["To"] = message.to
    mail["Subject"] = message.subject or _first_line(message.text)
    mail["Date"] = format_datetime(datetime.now(UTC))
    mail["Message-ID"] = make_msgid(idstring=f"reply-{message.message_id}", domain=domain)
    if message.in_reply_to:
        mail["In-Reply-To"] = message.in_reply_to
    references = list(message.references)
    if message.in_reply_to and (not references or references[-1] != message.in_reply_to):
        references.append(message.in_reply_to)
    if references:
        if len(references) > MAX_REFERENCES:
            references = [references[0], *references[-(MAX_REFERENCES - 1):]]
        mail["References"] = " ".join(references)
    mail.set_content(message.text)
    mail.add_alternative(message.html or text_as_html(message.text), subtype="html")
    for file in message.files:
        maintype, _, subtype = file.content_type.partition("/")
        mail.add_attachment(Path(file.path).read_bytes(), maintype=maintype or "application",
                            subtype=subtype or "octet-stream", filename=file.filename)
    return mail


def text_as_html(text: str) -> str:
    """The agent's plain text as the HTML alternative: escaped, paragraphs kept, links clickable."""
    paragraphs = [part for part in re.split(r"\n\s*\n", text.strip()) if part.strip()]
    rendered = []
    for paragraph in paragraphs:
        escaped = html.escape(paragraph)
        linked = _LINK.sub(lambda found: f'<a href="{found.group(0)}">{found.group(0)}</a>', escaped)
        rendered.append("<p>" + linked.replace("\n", "<br>\n") + "</p>")
    return '<!doctype html>\n<html><body style="font-family:sans-serif">' + "\n".join(rendered) + "</body></html>\n"


def _first_line(text: str) -> str:
    # A first mail to someone who never wrote by email (an order's address): its opening words.
    line = next((line.strip() for line in text.splitlines() if line.strip()), "")
    return line if len(line) <= 78 else line[:77].rstrip() + "…"
