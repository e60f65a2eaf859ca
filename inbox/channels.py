from enum import StrEnum


class Channel(StrEnum):
    whatsapp = "whatsapp"
    email = "email"
    webchat = "webchat"
    messenger = "messenger"
    telegram = "telegram"
    phone = "phone"


class AddressKind(StrEnum):
    """What an identity's address is, so a phone proven on one channel can match another."""

    phone = "phone"
    email = "email"
    handle = "handle"
