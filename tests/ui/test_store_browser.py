"""The store counter on a phone, and a call logged from the agent's sidebar, in a real browser."""

from decimal import Decimal

from playwright.async_api import Browser, expect

from inbox.agents.models import Role
from inbox.channels import AddressKind, Channel
from inbox.db import transaction, utcnow
from inbox.events import InboundMessage, Party
from inbox.ingest import ingest
from inbox.orders import service as orders
from tests.ui.conftest import screenshot_path, scroll_to
from tests.ui.steps import customer_writes, sign_in
from tests.web.users import PASSWORD, make_user


async def _ayse(sessions, ingest_config) -> int:
    customer_id = await customer_writes(sessions, ingest_config, "SM1", "+905321234567", "Ayşe Yılmaz",
                                        "Kargom nerede? 3 gündür dağıtımda görünüyor.")
    async with transaction(sessions) as session:
        await orders.upsert(session, orders.IncomingOrder(
            external_id="5001", number="1002", status="kargoda", total=Decimal("1249.90"), currency="TRY",
            placed_at=utcnow(), phone="+905321234567", lines=[orders.IncomingLine("Keten gömlek, lacivert", 1,
                                                                                   Decimal("1249.90"))]),
            region="TR")
    return customer_id


class TestStoreCounter:
    async def test_on_a_phone_a_number_finds_the_shopper_and_the_note_joins_their_thread(
            self, chromium: Browser, server, sessions, ingest_config) -> None:
        await _ayse(sessions, ingest_config)
        email = await make_user(sessions, Role.store, name="Kadıköy Mağaza")
        page = await (await chromium.new_context(viewport={"width": 390, "height": 844}, locale="tr-TR",
                                                 is_mobile=True, has_touch=True)).new_page()
        await page.goto(f"{server}/login")
        await page.locator("input[name=email]").fill(email)
        await page.locator("input[name=password]").fill(PASSWORD)
        await page.locator("button[type=submit]").click()
        await page.wait_for_url(f"{server}/store")
        await page.locator("#store-q").fill("0532 123 45 67")
        await page.locator("#store-q").press("Enter")
        result = page.locator(".store-result")
        await expect(result).to_have_count(1)
        await expect(result).to_contain_text("Ayşe Yılmaz")
        await expect(result).to_contain_text("#1002")
        await page.screenshot(path=screenshot_path("store-phone-lookup"))
        await result.click()

        await expect(page.locator(".store-customer h1")).to_have_text("Ayşe Yılmaz")
        await expect(page.locator(".store-thread")).to_contain_text("Kargom nerede?")
        await expect(page.locator(".store-facts")).to_contain_text("Keten gömlek, lacivert")
        # Read only: nothing on the page answers the customer.
        await expect(page.locator(".store-thread .composer, .store-thread button.retry")).to_have_count(0)
        note = page.locator(".store-note")
        await note.locator("textarea[name=summary]").fill("Paketi mağazadan teslim aldı, kimliğini gördüm.")
        await note.locator("input[name=confirmed]").check()
        await page.screenshot(path=screenshot_path("store-phone"), full_page=True)
        await note.locator("button[type=submit]").click()
        await expect(page.locator(".notice")).to_have_text("Müşterinin konuşmasına eklendi.")
        await expect(page.locator(".store-thread .message.note")).to_contain_text("Paketi mağazadan teslim aldı")
        await expect(page.locator(".store-thread .message.note .call-line")).to_contain_text("Yüz yüze")

        # What is not theirs stays closed: the inbox and the admin pages.
        for path in ("/inbox", "/admin"):
            refused = await page.goto(f"{server}{path}")
            assert refused is not None and refused.status == 403
        await expect(page.locator(".error-actions a")).to_have_attribute("href", "/store")


class TestSidebarCallForm:
    async def test_a_call_with_a_whatsapp_customers_number_lands_in_that_thread(
            self, chromium: Browser, server, sessions, ingest_config) -> None:
        await _ayse(sessions, ingest_config)
        async with transaction(sessions) as session:
            await ingest(session, InboundMessage(Channel.webchat, "chat-1", Party(
                "visitor:0123456789abcdef0123456789abcdef", AddressKind.handle, True),
                text="Sizi aradım ama kapandı, numaram 0532 123 45 67"), config=ingest_config)
        page = await (await chromium.new_context(viewport={"width": 1440, "height": 900}, locale="en-US")).new_page()
        await sign_in(page, server, await make_user(sessions, Role.agent, name="Ayşe Demir"))
        await page.locator(".conversation .open", has_text="Sizi aradım").click()
        sidebar = page.locator("#sidebar")
        await sidebar.locator(".log-call summary").click()
        form = sidebar.locator(".call-form")
        await form.locator("input[name=kind][value=outgoing]").check()
        await form.locator("input[name=number]").fill("0532 123 45 67")
        await form.locator("input[name=confirmed]").check()
        await form.locator("input[name=minutes]").fill("4")
        await form.locator("select[name=outcome]").select_option("resolved")
        await form.locator("textarea[name=summary]").fill("Geri aradım: kargo yarın Kadıköy şubesinde.")
        await scroll_to(form)
        await sidebar.screenshot(path=screenshot_path("phone-note-form"))
        await form.locator("button[type=submit]").click()

        # Confirmed, the number proves the chat was Ayşe's: one thread, her WhatsApp history and the call.
        thread = page.locator("#thread")
        await expect(thread.locator(".thread-head h2")).to_have_text("Ayşe Yılmaz")
        await expect(thread.locator(".message.inbound", has_text="Kargom nerede?")).to_be_visible()
        await expect(thread.locator(".message.inbound", has_text="Sizi aradım")).to_be_visible()
        call = thread.locator(".message.note")
        await expect(call.locator(".call-line")).to_have_text(
            "Outgoing call · +905321234567 · 4 min · resolved · number confirmed")
        await expect(call.locator(".body")).to_have_text("Geri aradım: kargo yarın Kadıköy şubesinde.")
        await expect(page).to_have_url(f"{server}/inbox/threads/1?view=unassigned")
        await page.screenshot(path=screenshot_path("phone-note-logged"))
