"""A customer with a bit of everything, made the way real data arrives: through ingest and the services.

Ayşe writes on WhatsApp, by email (two files, one of which another customer also sent) and on the
web chat as a signed-in shopper; her email customer was merged into her WhatsApp one; she has an
order, a preference, a consent, a note, and store staff looked her up by phone.
"""

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import SQLModel

from inbox import lookups
from inbox.channels import AddressKind, Channel
from inbox.customers import merge as merges
from inbox.customers import service as customers
from inbox.db import transaction
from inbox.events import InboundMessage, IncomingFile, Party
from inbox.files import FileStore
from inbox.ingest import IngestConfig, ingest
from inbox.orders import service as orders
from inbox.preferences import service as preferences
from inbox.text import fold
from inbox.visitors import service as visitors

SECRET = b"test secret key"
NAME = "Ayşe Yılmaz"
EMAIL = "ayse.yilmaz@example.com"
PHONE = "+905321234567"
PHONE_TYPED = "0532 123 45 67"
WHATSAPP_TEXT = f"Merhaba, numaram {PHONE_TYPED}, sipariş 1042'yi ne zaman alırım?"
EMAIL_TEXT = "Faturamı ekledim: gizli-fatura-metni"
WEBCHAT_TEXT = "Web sohbetten yazıyorum: kapıcıya bırakın"
INVOICE = b"%PDF-1.4 ayse-secret-invoice-bytes"
SHARED = b"\x89PNG shared-logo-both-customers-sent"
TRACKING = "https://kargo.example/track/ayse-1042"
PREFERENCE = "kapıda ödeme, Ayşe'nin tercihi"
NOTE = "Ayşe VIP müşteri notu"
# Everything above that says who she is or what she said: none may survive an erase.
NEEDLES = (NAME, EMAIL, PHONE, PHONE.lstrip("+"), PHONE_TYPED, "5321234567", "gizli-fatura-metni",
           "kapıcıya bırakın", "ne zaman alırım", "kargo.example/track", PREFERENCE, NOTE, "Yılmaz")


@dataclass(frozen=True, slots=True)
class Seeded:
    customer_id: int
    absorbed_id: int
    other_id: int
    visitor_token: str


async def seed(sessions: async_sessionmaker[AsyncSession], config: IngestConfig) -> Seeded:
    async with transaction(sessions) as session:
        whatsapp = await ingest(session, InboundMessage(
            Channel.whatsapp, "SMrights1", Party(f"whatsapp:{PHONE}", AddressKind.phone, True, NAME),
            text=WHATSAPP_TEXT), config=config)
        mail = await ingest(session, InboundMessage(
            Channel.email, "<rights-1@example.com>", Party(EMAIL, AddressKind.email, True, NAME),
            subject="Fatura", text=EMAIL_TEXT,
            files=(IncomingFile("fatura.pdf", "application/pdf", data=INVOICE),
                   IncomingFile("logo.png", "image/png", data=SHARED))), config=config)
        other = await ingest(session, InboundMessage(
            Channel.email, "<other-1@example.com>", Party("mehmet@example.org", AddressKind.email, True, "Mehmet Kaya"),
            text="Logo ektedir", files=(IncomingFile("logo.png", "image/png", data=SHARED),)), config=config)
    survivor, absorbed = whatsapp.customer_id or 0, mail.customer_id or 0
    async with transaction(sessions) as session:
        await merges.merge(session, survivor_id=survivor, absorbed_id=absorbed, actor="user:1:admin@shop.example")
        await orders.upsert(session, orders.IncomingOrder(
            external_id="shop-1042", number="1042", status="shipped", total=Decimal("349.90"), currency="TRY",
            placed_at=datetime(2026, 11, 20, 10, tzinfo=UTC), email=EMAIL, name=NAME, tracking_url=TRACKING,
            lines=(orders.IncomingLine("Pamuklu tişört", 1, Decimal("349.90"), "TS-1"),)), region="TR")
        await preferences.set_preference(session, customer_id=survivor, key="ödeme", value=PREFERENCE,
                                         source="agent", actor="user:1:admin@shop.example")
        await preferences.record_consent(session, customer_id=survivor, channel="whatsapp", granted=True,
                                         source="stated", actor="user:1:admin@shop.example")
        await customers.set_note(session, survivor, note=NOTE)
        started = await visitors.start(session, secret=SECRET, token="", client="c1", region="TR",
                                       shopper=Party(EMAIL, AddressKind.email, True, NAME), now=datetime.now(UTC))
        await lookups.look_up(session, PHONE_TYPED, region="TR", actor="user:2:store@shop.example")
    async with transaction(sessions) as session:
        await ingest(session, InboundMessage(Channel.webchat, "wc-rights-1", visitors.party(started.visitor),
                                             text=WEBCHAT_TEXT), config=config)
    return Seeded(survivor, absorbed, other.customer_id or 0, started.token)


async def personal_data_left(session: AsyncSession, needles: tuple[str, ...] = NEEDLES) -> list[tuple[str, str, str]]:
    """(table, column, needle) for every text, JSON or binary value in any table that still holds a needle,
    compared case- and Turkish-insensitively (search documents are stored folded)."""
    wanted = [fold(needle) for needle in needles]
    found = []
    for table in SQLModel.metadata.sorted_tables:
        # Every column, whatever its declared type: the value decides whether it can hold text.
        columns = list(table.columns)
        for row in (await session.execute(select(*columns))).all():
            for column, value in zip(columns, row, strict=True):
                text = _as_text(value)
                for needle, folded in zip(needles, wanted, strict=True):
                    if text and folded in fold(text):
                        found.append((table.name, column.name, needle))
    return found


def _as_text(value: Any) -> str:
    if isinstance(value, bytes | memoryview):
        return bytes(value).decode("utf-8", "replace")
    if isinstance(value, str):
        return value
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return ""  # numbers, times, booleans: nothing a person can be found by


def files_holding(files: FileStore, data: bytes) -> list[str]:
    return [path.name for path in files.root.rglob("*") if path.is_file() and path.read_bytes() == data]
