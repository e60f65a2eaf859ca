"""Signed customer links: a payload the shop puts in a chat link so the chat joins a known customer.

A payload is "<customer id>-<signature>", at most 64 characters of [A-Za-z0-9_-] (what Telegram
allows after ?start=). The signature is HMAC-SHA256 under LINK_SECRET, base64url, cut to 32
characters: 192 bits, far beyond guessing, and short enough for any customer id.
"""

import base64
import hashlib
import hmac
import re

MAX_LENGTH = 64
_SIGNATURE_LENGTH = 32
_PAYLOAD = re.compile(r"(\d{1,30})-([A-Za-z0-9_-]{32})")
# Binds the signature to this use, should LINK_SECRET ever sign anything else.
_PURPOSE = b"onethread customer link:"


def sign(customer_id: int, *, secret: str) -> str:
    if not secret:
        raise ValueError("LINK_SECRET is not set")
    if customer_id <= 0:
        raise ValueError("customer ids are positive")
    return f"{customer_id}-{_signature(customer_id, secret)}"


def verify(payload: str, *, secret: str) -> int | None:
    """The customer id the payload was signed for; None for anything typed, cut or tampered with."""
    found = _PAYLOAD.fullmatch(payload)
    if not secret or found is None:
        return None
    customer_id = int(found.group(1))
    if not hmac.compare_digest(found.group(2), _signature(customer_id, secret)):
        return None
    return customer_id


def _signature(customer_id: int, secret: str) -> str:
    digest = hmac.new(secret.encode(), _PURPOSE + str(customer_id).encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")[:_SIGNATURE_LENGTH]
