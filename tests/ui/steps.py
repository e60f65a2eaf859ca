"""Steps every browser test takes: a customer writes in, an agent signs in."""

from inbox.channels import AddressKind, Channel
from inbox.db import transaction
from inbox.events import InboundMessage, Party
from inbox.ingest import ingest
from tests.web.users import PASSWORD


async def customer_writes(sessions, ingest_config, provider_id: str, phone: str, name: str, text: str) -> None:
    async with transaction(sessions) as session:
        await ingest(session, InboundMessage(Channel.whatsapp, provider_id,
                                             Party(f"whatsapp:{phone}", AddressKind.phone, True, name), text=text),
                     config=ingest_config)


async def sign_in(page, server: str, email: str) -> None:
    await page.goto(f"{server}/inbox")
    await page.locator("input[name=email]").fill(email)
    await page.locator("input[name=password]").fill(PASSWORD)
    await page.locator("button[type=submit]").click()
    await page.wait_for_url(f"{server}/inbox")
