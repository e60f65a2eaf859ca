"""WhatsApp templates in a real browser: an admin adds one; an agent sends it after the 24-hour window closed."""

from datetime import timedelta

from playwright.async_api import Browser, expect
from sqlalchemy import select

from inbox import templates
from inbox.agents.models import Role
from inbox.db import transaction
from inbox.messages.models import Message
from tests.factories import make_order
from tests.ui.conftest import screenshot_path
from tests.ui.steps import sign_in
from tests.ui.test_composer_browser import _sule_writes
from tests.web.users import make_user

SID = "HX" + "0123456789abcdef" * 2
SHIPPED = "Merhaba {{1}}, {{2}} numaralı siparişiniz kargoya verildi. Sorunuz olursa bu mesajı yanıtlayabilirsiniz."


class TestAdminTemplates:
    async def test_an_admin_adds_a_template_from_the_twilio_console(self, chromium: Browser, server,
                                                                     sessions) -> None:
        email = await make_user(sessions, Role.admin, name="Deniz Kara")
        page = await (await chromium.new_context(viewport={"width": 1440, "height": 900}, locale="en-US")).new_page()
        await sign_in(page, server, email)
        await page.goto(f"{server}/admin/users")
        await page.get_by_role("link", name="Templates", exact=True).click()
        await expect(page).to_have_url(f"{server}/admin/templates")
        await expect(page.locator(".admin-main")).to_contain_text("Twilio console")
        add = page.locator("form[action='/admin/templates']")
        await add.get_by_label("Name").fill("siparis_kargoda")
        await add.get_by_label("Language").fill("tr")
        await add.get_by_label("Content SID").fill(SID)
        await add.get_by_label("Approved text").fill(SHIPPED)
        await add.get_by_role("button", name="Add template").click()
        await expect(page.locator(".notice")).to_have_text("Saved.")
        await expect(page.locator("details.template summary")).to_contain_text("siparis_kargoda")
        await page.locator("details.template summary").click()
        await page.screenshot(path=screenshot_path("admin-templates"), full_page=True)


class TestSendTemplate:
    async def test_after_the_window_closed_the_agent_sends_a_template_and_the_thread_shows_it(
            self, chromium: Browser, server, web_app, sessions, ingest_config) -> None:
        email = await make_user(sessions, Role.agent, name="Ayşe Demir")
        identity = await _sule_writes(web_app, ingest_config, ago=timedelta(days=2))
        async with transaction(web_app.state.sessions) as session:
            await make_order(session, customer_id=identity.customer_id, external_id="1002")
            await templates.save(session, name="siparis_kargoda", content_sid=SID, language="tr", body=SHIPPED)
        page = await (await chromium.new_context(viewport={"width": 1440, "height": 900}, locale="en-US")).new_page()
        await sign_in(page, server, email)
        await page.locator(".conversation .open", has_text="Şule Çelik").click()
        picker = page.locator("#thread .template-picker[data-window-channel=whatsapp]")
        await expect(page.locator("#thread .window-notice.closed")).to_contain_text("WhatsApp messaging window closed")
        await expect(picker).to_be_visible()
        await picker.get_by_label("Send an approved template instead").select_option(label="siparis_kargoda · tr")
        await expect(picker.locator("[data-template-body]")).to_contain_text("{{2}} numaralı siparişiniz")
        first, second = picker.locator("input[name=var_1]"), picker.locator("input[name=var_2]")
        # Filled from the customer: her first name and her newest order.
        await expect(first).to_have_value("Şule")
        await expect(second).to_have_value("1002")
        await first.fill("Şule Hanım")
        await page.screenshot(path=screenshot_path("composer-template-picker"))
        await picker.get_by_role("button", name="Send template").click()
        sent = page.locator("#thread .message.outbound").last
        await expect(sent).to_contain_text("Merhaba Şule Hanım, 1002 numaralı siparişiniz kargoya verildi.")
        await page.screenshot(path=screenshot_path("composer-template-sent"))
        async with sessions() as session:
            stored = (await session.execute(select(Message).where(Message.direction == "outbound"))).scalar_one()
        assert stored.extra["template"]["variables"] == {"1": "Şule Hanım", "2": "1002"}
