"""The customer's profile in a real browser: a preference set by the agent, one saved from the
customer's message, marketing consent with its proof, and a proactive message refused, then sent."""

import shutil
from datetime import timedelta

from playwright.async_api import Browser, Locator, Page, expect

from inbox import templates
from inbox.agents.models import Role
from inbox.db import transaction
from inbox.preferences import service as preferences
from tests.ui.conftest import screenshot_path
from tests.ui.steps import customer_writes, sign_in
from tests.web.test_customer_profile import twilio, web_app  # noqa: F401  (WhatsApp sends reach the Twilio fake)
from tests.web.users import make_user

SAID = "Ayakkabı numaram 39, kampanyalarınızı WhatsApp'tan alabilirim"
RESTOCK = "Sepetinizde bıraktığınız ayakkabılar Kadıköy mağazamızda stokta."
SID = "HX" + "0123456789abcdef" * 2


async def _shot(shown: Page | Locator, name: str) -> None:
    # The artifact the CI keeps, and a copy in /tmp to look at by hand.
    await shown.screenshot(path=screenshot_path(name))
    shutil.copy(screenshot_path(name), f"/tmp/{name}.png")


async def test_preferences_consent_and_a_proactive_message_from_the_sidebar(
        chromium: Browser, server, sessions, ingest_config, twilio) -> None:  # noqa: F811
    email = await make_user(sessions, Role.agent, name="Ayşe Demir")
    await customer_writes(sessions, ingest_config, "SM1", "+905321234567", "Şule Çelik", "Merhaba, siparişim nerede?",
                          ago=timedelta(minutes=20))
    await customer_writes(sessions, ingest_config, "SM2", "+905321234567", "Şule Çelik", SAID,
                          ago=timedelta(minutes=10))
    page = await (await chromium.new_context(viewport={"width": 1440, "height": 1000}, locale="en-US")).new_page()
    await sign_in(page, server, email)
    await page.locator(".conversation .open", has_text="Şule Çelik").click()
    sidebar = page.locator("#sidebar")
    await expect(sidebar).to_be_visible()

    # The agent's own knowledge: set by them, now.
    await sidebar.locator("#preference-form summary").click()
    await sidebar.locator("#preference-form input[name=key]").fill("language")
    await sidebar.locator("#preference-form input[name=value]").fill("Türkçe")
    await sidebar.locator("#preference-form button", has_text="Save preference").click()
    languages = sidebar.locator(".preferences dd", has_text="Türkçe")
    await expect(languages).to_contain_text("set by Ayşe Demir")
    await expect(sidebar.locator(".preferences dt").first).to_have_text("Language")

    # What the customer said, saved from their message: stated there, on WhatsApp.
    said = page.locator(".message.inbound", has_text="Ayakkabı numaram 39")
    await said.hover()
    await said.locator(".message-action", has_text="Save as preference").click()
    form = sidebar.locator("#preference-form")
    await expect(form.locator(".quoted")).to_contain_text("Ayakkabı numaram 39")
    await said.hover()
    await _shot(page, "sidebar-preference-from-message")
    await form.locator("input[name=key]").fill("shoe size!")
    await form.locator("input[name=value]").fill("39")
    await form.locator("button", has_text="Save preference").click()
    await expect(form.locator(".alert")).to_contain_text("Key: use up to 40 letters a-z and _")
    await expect(form.locator(".quoted")).to_contain_text("Ayakkabı numaram 39")
    await form.locator("input[name=key]").fill("shoe_size")
    await form.locator("button", has_text="Save preference").click()
    size = sidebar.locator(".preferences dd", has_text="39")
    await expect(size).to_contain_text("stated in message “Ayakkabı numaram 39")
    await expect(size).to_contain_text("WhatsApp")
    await _shot(sidebar, "sidebar-preferences")

    # No consent yet: the new message is refused, saying which consent is missing, the text kept.
    await sidebar.locator("#proactive-form summary").click()
    proactive = sidebar.locator("#proactive-form")
    await expect(proactive.locator(".consent-missing")).to_contain_text("No marketing consent on WhatsApp")
    await proactive.locator("textarea[name=body]").fill(RESTOCK)
    await proactive.locator("button", has_text="Send").click()
    await expect(proactive.locator(".alert")).to_contain_text("No marketing consent on WhatsApp")
    await expect(proactive.locator("textarea[name=body]")).to_have_value(RESTOCK)
    await _shot(sidebar, "sidebar-proactive-refused")

    # The customer said yes in that message: recorded with it as proof.
    await sidebar.locator("#consent-form summary").click()
    consent = sidebar.locator("#consent-form")
    await expect(consent.locator("select[name=proof_message_id] option").first).to_contain_text("Ayakkabı numaram")
    await _shot(consent, "sidebar-consent-form")
    await consent.locator("button", has_text="Record consent").click()
    await expect(sidebar.locator(".consents li")).to_contain_text("marketing: granted")
    await expect(sidebar.locator(".consents li")).to_contain_text("in message “Ayakkabı numaram 39")

    # Now it goes out: in the thread, labelled, and on to Twilio.
    await sidebar.locator("#proactive-form summary").click()
    await expect(proactive.locator(".consent-missing")).to_have_count(0)
    await proactive.locator("textarea[name=body]").fill(RESTOCK)
    await proactive.locator("button", has_text="Send").click()
    sent = page.locator(".message.outbound", has_text=RESTOCK)
    await expect(sent.locator(".tag-proactive")).to_have_text("Proactive")
    await twilio.wait_for_requests(1)
    assert twilio.requests[0].get("Body") == RESTOCK
    await _shot(page, "thread-proactive-sent")


async def test_outside_whatsapps_window_the_new_message_is_an_approved_template(
        chromium: Browser, server, sessions, ingest_config, twilio) -> None:  # noqa: F811
    email = await make_user(sessions, Role.agent, name="Ayşe Demir")
    customer_id = await customer_writes(sessions, ingest_config, "SM1", "+905321234567", "Şule Çelik", SAID,
                                        ago=timedelta(days=2))
    async with transaction(sessions) as session:
        await preferences.record_agent_consent(session, customer_id=customer_id, channel="whatsapp", granted=True,
                                               actor="user:1")
        await templates.save(session, name="stok_haberi", content_sid=SID, language="tr",
                             body="Merhaba {{1}}, ürününüz yeniden stokta.")
    page = await (await chromium.new_context(viewport={"width": 1440, "height": 1000}, locale="en-US")).new_page()
    await sign_in(page, server, email)
    await page.locator(".conversation .open", has_text="Şule Çelik").click()
    proactive = page.locator("#sidebar #proactive-form")
    await proactive.locator("summary").click()
    await expect(proactive.locator(".window-closed-note")).to_contain_text("only an approved template can go out")
    await expect(proactive.locator("textarea[name=body]")).to_have_count(0)
    await proactive.locator("select[name=template_id]").select_option(label="stok_haberi · tr")
    await expect(proactive.locator("input[name=var_1]")).to_have_value("Şule")
    await _shot(page.locator("#sidebar"), "sidebar-proactive-template")
    await proactive.locator("button", has_text="Send template").click()
    sent = page.locator(".message.outbound", has_text="Merhaba Şule, ürününüz yeniden stokta.")
    await expect(sent.locator(".tag-proactive")).to_be_visible()
    await twilio.wait_for_requests(1)
    assert twilio.requests[0].get("ContentSid") == SID
