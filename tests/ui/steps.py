"""Steps every browser test takes: a customer writes in, an agent signs in."""

from datetime import timedelta

from playwright.async_api import expect
from sqlalchemy import select
from sqlmodel import col

from inbox.channels import AddressKind, Channel
from inbox.db import transaction, utcnow
from inbox.events import InboundMessage, Party
from inbox.ingest import ingest
from inbox.messages.models import Message
from tests.web.users import PASSWORD


async def customer_writes(sessions, ingest_config, provider_id: str, phone: str, name: str, text: str, *,
                          ago: timedelta = timedelta(0)) -> int:
    """The customer writes on WhatsApp, `ago` before now (a day or more: the 24-hour window has closed);
    returns their id."""
    async with transaction(sessions) as session:
        result = await ingest(session, InboundMessage(
            Channel.whatsapp, provider_id, Party(f"whatsapp:{phone}", AddressKind.phone, True, name), text=text,
            provider_at=utcnow() - ago), config=ingest_config)
    return result.customer_id or 0


async def sign_in(page, server: str, email: str) -> None:
    await page.goto(f"{server}/inbox")
    await page.locator("input[name=email]").fill(email)
    await page.locator("input[name=password]").fill(PASSWORD)
    await page.locator("button[type=submit]").click()
    await page.wait_for_url(f"{server}/inbox")
    # Live means connected and caught up: a test that acts sooner races the catch-up's refresh.
    await expect(page.locator("body")).to_have_attribute("data-live", "on")


async def message_written(sessions, text: str) -> tuple[int, int]:
    """The id of the message with this text and of its thread, as a test that wrote it finds them."""
    async with sessions() as reader:
        row = (await reader.execute(
            select(col(Message.id), col(Message.thread_id)).where(col(Message.text) == text))).one()
    return row[0], row[1]
