"""A customer's data rights in a real browser: the admin downloads the export, follows an order the
customer mentioned, and erases the customer after typing the name."""

import json
import zipfile
from pathlib import Path

from playwright.async_api import Browser, expect
from sqlalchemy import select

from inbox.agents.models import Role
from inbox.orders.models import Order
from inbox.threads import service as threads
from tests.customer_record import EMAIL_TEXT, NAME, PHONE, WHATSAPP_TEXT, personal_data_left, seed
from tests.ui.conftest import scroll_to
from tests.ui.steps import customer_writes, sign_in
from tests.web.users import make_user

HOSTILE = "<img src=x onerror=alert(1)>#1042<script>alert(2)</script>"
# Screenshots a person looks at after the run.
SHOTS = Path("/tmp")


async def _open_thread(chromium: Browser, server: str, sessions, ingest_config, *, locale: str = "en-US"):
    seeded = await seed(sessions, ingest_config)
    async with sessions() as session:
        thread_id = (await threads.for_customer(session, seeded.customer_id)).id
        order_id = (await session.execute(select(Order.id))).scalar_one()
    email = await make_user(sessions, Role.admin, name="Admin")
    context = await chromium.new_context(viewport={"width": 1440, "height": 1000}, locale=locale, accept_downloads=True)
    page = await context.new_page()
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: dialogs.append(dialog.message))
    await sign_in(page, server, email)
    await page.goto(f"{server}/inbox/threads/{thread_id}")
    await expect(page.locator("#messages")).to_contain_text(WHATSAPP_TEXT)
    return page, order_id, dialogs


class TestDataRightsInTheSidebar:
    async def test_the_admin_downloads_the_export_and_follows_a_mentioned_order(
            self, chromium: Browser, server, sessions, ingest_config, tmp_path) -> None:
        page, order_id, dialogs = await _open_thread(chromium, server, sessions, ingest_config)
        await customer_writes(sessions, ingest_config, "SMhostile", PHONE, NAME, HOSTILE)

        # Both mentions link, the hostile one's markup as text beside its link.
        mention = page.locator("a.order-mention")
        await expect(mention).to_have_count(2)
        await expect(mention.first).to_have_text("sipariş 1042")
        await expect(page.locator("#messages")).to_contain_text("<img src=x onerror=alert(1)>")
        assert await page.locator("#messages img[src=x], #messages script").count() == 0
        await mention.first.click()
        await expect(page.locator(f"#order-{order_id}")).to_have_class("order highlighted")
        await page.screenshot(path=str(SHOTS / "rights-order-mention.png"))

        async with page.expect_download() as started:
            await page.get_by_role("link", name="Export all data (zip)").click()
        download = await started.value
        assert download.suggested_filename.startswith("customer-") and download.suggested_filename.endswith(".zip")
        saved = tmp_path / download.suggested_filename
        await download.save_as(saved)
        with zipfile.ZipFile(saved) as archive:
            record = json.loads(archive.read("customer.json"))
            names = archive.namelist()
        assert {WHATSAPP_TEXT, EMAIL_TEXT} <= {m["text"] for m in record["messages"]}
        assert any(name.endswith("-fatura.pdf") for name in names)
        assert dialogs == []

    async def test_the_admin_erases_after_typing_the_name(self, chromium: Browser, server, sessions,
                                                          ingest_config) -> None:
        page, _order_id, dialogs = await _open_thread(chromium, server, sessions, ingest_config)
        await page.get_by_text("Erase this customer…").click()
        box = page.get_by_label(f"Type “{NAME}” or ERASE to confirm")
        await box.fill("Ayşe")
        await page.screenshot(path=str(SHOTS / "rights-erase-confirm.png"))
        await page.get_by_role("button", name="Erase for good").click()
        # The wrong name is refused with a toast, and nothing happened.
        await expect(page.locator("#flash")).to_contain_text("type the customer's name or ERASE")
        await expect(page.locator("#messages")).to_contain_text(WHATSAPP_TEXT)

        await box.fill(NAME)
        await page.get_by_role("button", name="Erase for good").click()
        await expect(page.locator(".erased-notice")).to_have_text("This customer's personal data was erased.")
        await expect(page.locator("#messages")).not_to_contain_text(WHATSAPP_TEXT)
        # The list hears of it live: the resolved tombstone leaves the open views.
        await expect(page.locator("#list")).not_to_contain_text(NAME)
        await expect(page.locator("#list .conversation")).to_have_count(1)
        await page.screenshot(path=str(SHOTS / "rights-erased.png"))
        async with sessions() as session:
            assert await personal_data_left(session) == []
        assert dialogs == []

    async def test_a_turkish_admin_reads_the_section_in_turkish(self, chromium: Browser, server, sessions,
                                                                ingest_config) -> None:
        page, _order_id, _dialogs = await _open_thread(chromium, server, sessions, ingest_config, locale="tr-TR")
        await expect(page.get_by_role("link", name="Tüm verileri dışa aktar (zip)")).to_be_visible()
        await page.get_by_text("Bu müşteriyi sil…").click()
        await expect(page.get_by_role("button", name="Kalıcı olarak sil")).to_be_visible()
        await scroll_to(page.locator(".data-rights"))
        await page.screenshot(path=str(SHOTS / "rights-tr.png"))
