"""The widget's own credentials, HMAC-SHA256 under the server's SECRET_KEY (inbox.signing).

token   "<key>.<signature>": kept in the browser's storage, names one Visitor row for as long as it lives.
ticket  "<key>.<n>.<expires>.<signature>": opens one websocket before it expires. Browsers cannot
        set headers on a websocket, so the socket's credential travels in its first frame; a ticket
        rather than the token itself, so a frame logged or replayed is worth nothing a minute later,
        and n, which rises per visitor, is accepted once (inbox/visitors/service.py).
Each signature is bound to its purpose: a token is never a ticket, nor a file link.
"""

import re
import secrets
from datetime import datetime, timedelta

from inbox.signing import sign, valid

TICKET_LIFETIME = timedelta(seconds=60)
_KEY = re.compile(r"[0-9a-f]{32}")
_TOKEN = re.compile(r"([0-9a-f]{32})\.([0-9a-f]{64})")
_TICKET = re.compile(r"([0-9a-f]{32})\.(\d{1,12})\.(\d{1,12})\.([0-9a-f]{64})")


def new_key() -> str:
    return secrets.token_hex(16)


def token_for(secret: bytes, visitor_key: str) -> str:
    if not _KEY.fullmatch(visitor_key):
        raise ValueError("not a visitor key")
    return f"{visitor_key}.{sign(secret, 'widget visitor', visitor_key)}"


def visitor_of(secret: bytes, token: str) -> str | None:
    """The visitor key the token was signed for; None for anything cut, typed or tampered with."""
    found = _TOKEN.fullmatch(token.strip())
    if found is None or not valid(secret, found.group(2), "widget visitor", found.group(1)):
        return None
    return found.group(1)


def ticket_for(secret: bytes, visitor_key: str, number: int, *, now: datetime) -> str:
    expires = str(int((now + TICKET_LIFETIME).timestamp()))
    return f"{visitor_key}.{number}.{expires}.{sign(secret, 'widget ticket', visitor_key, str(number), expires)}"


def read_ticket(secret: bytes, ticket: str, *, now: datetime) -> tuple[str, int] | None:
    """(visitor key, ticket number) of a genuine, unexpired ticket; whether it was used is the caller's to check."""
    found = _TICKET.fullmatch(ticket.strip())
    if found is None:
        return None
    key, number, expires, signature = found.groups()
    if int(expires) < now.timestamp() or not valid(secret, signature, "widget ticket", key, number, expires):
        return None
    return key, int(number)
