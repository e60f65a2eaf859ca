"""Canonical addresses, so one number written two ways is one identity."""

import functools

import phonenumbers

from inbox.channels import AddressKind
from inbox.errors import Invalid


def normalize_phone(raw: str, region: str) -> str:
    """E.164 for anything a provider or a person writes: "whatsapp:+90 532…", "905321234567", "0532 123 45 67"."""
    text = raw.strip()
    # The same few thousand senders write all day: parsing their numbers again was 2% of the
    # ingest writer's CPU. Only what could be a phone number is remembered, so the cache stays small.
    return _phone(text, region) if len(text) <= 40 else _parse_phone(text, region, raw)


@functools.lru_cache(maxsize=16_384)
def _phone(text: str, region: str) -> str:
    return _parse_phone(text, region, text)


def _parse_phone(text: str, region: str, raw: str) -> str:
    for prefix in ("whatsapp:", "tel:", "sms:"):
        if text.lower().startswith(prefix):
            text = text[len(prefix):]
    digits = "".join(ch for ch in text if ch.isdigit())
    candidates = [text]
    if not text.startswith("+") and not text.startswith("0") and len(digits) > 10:
        # WaId and Telegram contacts drop the "+": "905321234567".
        candidates.insert(0, "+" + digits)
    for candidate in candidates:
        try:
            number = phonenumbers.parse(candidate, region)
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_possible_number(number):
            return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    raise Invalid("phone", f"not a phone number: {raw!r}")


def normalize_email(raw: str) -> str:
    address = raw.strip().strip("<>").strip()
    local, at, domain = address.rpartition("@")
    if not at or not local or "." not in domain or " " in address:
        raise Invalid("email", f"not an email address: {raw!r}")
    if len(address) > 254:  # RFC 5321's limit on a path, and more than the column holds
        raise Invalid("email", f"longer than an email address can be: {raw[:60]!r}…")
    return address.lower()


# Pure, and asked for every inbound message while phonenumbers takes ~100 µs a number: the
# same few thousand senders write again and again.
@functools.lru_cache(maxsize=8192)
def normalize(kind: AddressKind | str, raw: str, *, region: str) -> str:
    if kind == AddressKind.phone:
        return normalize_phone(raw, region)
    if kind == AddressKind.email:
        return normalize_email(raw)
    handle = raw.strip()
    if not handle:
        raise Invalid("address", "empty")
    return handle


def looks_like_phone(text: str) -> bool:
    digits = sum(ch.isdigit() for ch in text)
    return digits >= 7 and all(ch.isdigit() or ch in "+-() ." for ch in text.strip())
