"""The composer in a real browser: `/` canned responses, `@` mentions, files, Retry, the messaging window."""

import struct
import zlib
from datetime import timedelta

from playwright.async_api import Browser, Page, expect

from inbox import canned
from inbox.agents.models import Role
from inbox.channels import AddressKind, Channel
from inbox.customers import service as customers
from inbox.customers.models import Identity
from inbox.db import transaction
from inbox.events import DeliveryStatus, Direction
from inbox.messages import service as messages
from inbox.threads import service as threads
from tests.factories import make_order
from tests.ui.conftest import screenshot_path
from tests.ui.steps import customer_writes, sign_in
from tests.web.users import make_user


def _png(width: int = 240, height: int = 160) -> bytes:
    """A photo-sized PNG (a blue-to-orange gradient), so the thumbnail shows what an agent would see."""
    def pixel(x: int, y: int) -> tuple[int, int, int]:
        return 40 + x * 200 // width, 90 + y * 60 // height, 220 - x * 180 // width

    rows = b"".join(b"\x00" + bytes(c for x in range(width) for c in pixel(x, y)) for y in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


PNG = _png()


async def _open(chromium: Browser, server: str, email: str, *, width: int = 1440, height: int = 900) -> Page:
    page = await (await chromium.new_context(viewport={"width": width, "height": height}, locale="en-US")).new_page()
    await sign_in(page, server, email)
    await page.locator(".conversation .open", has_text="Şule Çelik").click()
    await expect(page.locator("#thread .composer")).to_be_visible()
    return page


async def _sule_writes(web_app, ingest_config, *, ago: timedelta = timedelta(0)) -> Identity:
    """Şule writes in on WhatsApp, `ago` before now; returns that identity."""
    await customer_writes(web_app.state.sessions, ingest_config, "SM1", "+905321234567", "Şule Çelik",
                          "Merhaba, kargom nerede?", ago=ago)
    async with web_app.state.sessions() as session:
        identity = await customers.find_identity(session, channel=Channel.whatsapp, address="+905321234567")
    assert identity is not None
    return identity


class TestSuggestions:
    async def test_slash_inserts_a_canned_response_filled_for_the_customer(self, chromium: Browser, server, web_app,
                                                                           sessions, ingest_config) -> None:
        email = await make_user(sessions, Role.agent, name="Ayşe Demir")
        identity = await _sule_writes(web_app, ingest_config)
        async with transaction(web_app.state.sessions) as session:
            await make_order(session, customer_id=identity.customer_id, external_id="1002", status="shipped")
            await canned.save(session, shortcut="kargo", title="Kargo durumu",
                              body="Merhaba {{customer.first_name}}, #{{order.number}} siparişiniz: {{order.status}}.")
            await canned.save(session, shortcut="iade", title="İade süreci", body="İade formunu gönderiyorum.")
        page = await _open(chromium, server, email)
        text = page.locator("#thread textarea[name=text]")
        await text.press_sequentially("Selam. /ka")
        popup = page.locator(".suggest-popup [role=listbox]")
        await expect(popup.locator("[role=option]")).to_have_count(1)
        await expect(popup).to_contain_text("/kargo")
        await page.screenshot(path=screenshot_path("composer-canned-popup"))
        await text.press("Enter")
        await expect(text).to_have_value("Selam. Merhaba Şule, #1002 siparişiniz: shipped.")
        await expect(page.locator(".suggest-popup")).to_be_hidden()
        # Esc closes the list and leaves the agent typing.
        await text.press_sequentially(" /")
        await expect(page.locator(".suggest-popup [role=option]")).to_have_count(2)
        await text.press("Escape")
        await expect(page.locator(".suggest-popup")).to_be_hidden()
        await expect(text).to_be_focused()

    async def test_at_mentions_a_colleague_who_gets_a_toast(self, chromium: Browser, server, web_app, sessions,
                                                            ingest_config) -> None:
        ayse = await make_user(sessions, Role.agent, email="ayse@shop.example", name="Ayşe Demir")
        mehmet = await make_user(sessions, Role.agent, email="mehmet@shop.example", name="Mehmet Kaya")
        await _sule_writes(web_app, ingest_config)
        colleague = await (await chromium.new_context(viewport={"width": 1440, "height": 900},
                                                      locale="en-US")).new_page()
        await sign_in(colleague, server, mehmet)
        await expect(colleague.locator("body[data-live=on]")).to_be_attached()
        page = await _open(chromium, server, ayse)
        await page.locator("#thread input[name=kind][value=note]").check()
        text = page.locator("#thread textarea[name=text]")
        await text.press_sequentially("@meh")
        await expect(page.locator(".suggest-popup [role=option]")).to_have_text(["Mehmet Kaya mehmet@shop.example"])
        await page.screenshot(path=screenshot_path("composer-mention-popup"))
        await text.press("Tab")
        await text.press_sequentially("iade onayı lazım")
        await expect(text).to_have_value("@Mehmet Kaya iade onayı lazım")
        await text.press("Control+Enter")
        await expect(page.locator(".message.note mark.mention")).to_have_text("@Mehmet Kaya")
        toast = colleague.locator(".toasts .mention-card")
        await expect(toast).to_contain_text("Ayşe Demir mentioned you in a note about Şule Çelik")
        await expect(toast).to_contain_text("iade onayı lazım")
        await colleague.screenshot(path=screenshot_path("mention-toast"))


class TestFilesAndDelivery:
    async def test_an_attached_image_shows_as_a_thumbnail_and_a_failed_reply_offers_retry(
            self, chromium: Browser, server, web_app, sessions, ingest_config) -> None:
        email = await make_user(sessions, Role.agent, name="Ayşe Demir")
        identity = await _sule_writes(web_app, ingest_config)
        async with transaction(web_app.state.sessions) as session:
            thread = await threads.for_customer(session, identity.customer_id)
            # Replies the provider already confirmed, one per tick.
            for index, status in enumerate((DeliveryStatus.sent, DeliveryStatus.delivered, DeliveryStatus.read)):
                message_id = await messages.append(session, thread, messages.NewMessage(
                    direction=Direction.outbound, channel=Channel.whatsapp, text=f"Yanıt {index + 1}",
                    author_type="agent", author_name="Ayşe Demir", provider_id=f"SMout{index}",
                    identity_id=identity.id, delivery_status=DeliveryStatus.sent))
                stored = await messages.get(session, message_id or 0)
                if status != DeliveryStatus.sent:
                    await messages.apply_delivery(session, stored, status=status, error=None)
        page = await _open(chromium, server, email)
        await expect(page.locator(".message.outbound .delivery-read")).to_have_count(1)

        await page.locator("#thread input[name=kind][value=note]").check()
        await page.locator("#thread textarea[name=text]").fill("Müşterinin gönderdiği fotoğraf")
        await page.locator("#thread input[name=files]").set_input_files(
            [{"name": "kutu.png", "mimeType": "image/png", "buffer": PNG}])
        await expect(page.locator("#thread .chosen-files")).to_contain_text("kutu.png")
        await page.locator("#thread .composer button[type=submit]").click()
        thumb = page.locator(".message.note .attachments img[alt='kutu.png']")
        await expect(thumb).to_be_visible()
        assert await thumb.evaluate("img => img.complete && img.naturalWidth") == 240

        # WhatsApp is not configured here: the real worker fails the reply, and the page learns it live.
        await page.locator("#thread input[name=kind][value=reply]").check()
        await page.locator("#thread textarea[name=text]").fill("Kargonuz yarın teslim edilecek.")
        await page.locator("#thread .composer button[type=submit]").click()
        failed = page.locator(".message.outbound.failed")
        await expect(failed.locator(".error")).to_contain_text("Not delivered: channel not configured")
        await expect(failed.locator(".delivery-failed")).to_be_visible()
        await page.screenshot(path=screenshot_path("thread-ticks-attachments-failure"))
        await failed.get_by_role("button", name="Retry").click()
        # Queued again, and failed again by the same worker: the reason comes back with its button.
        await expect(page.locator(".message.outbound.failed").get_by_role("button", name="Retry")).to_be_visible()


class TestWindow:
    async def test_a_closed_whatsapp_window_offers_telegram_and_the_picker_updates_the_notice(
            self, chromium: Browser, server, web_app, sessions, ingest_config) -> None:
        email = await make_user(sessions, Role.agent, name="Ayşe Demir")
        identity = await _sule_writes(web_app, ingest_config, ago=timedelta(days=2))
        async with transaction(web_app.state.sessions) as session:
            await customers.add_identity(session, customer_id=identity.customer_id, channel=Channel.telegram,
                                         kind=AddressKind.handle, address="5550001", verified=True)
        page = await _open(chromium, server, email)
        notice = page.locator("#thread .window-notice[data-window-channel=whatsapp]")
        picker = page.locator("#thread select[name=channel]")
        await expect(picker).to_have_value("whatsapp")
        await expect(notice).to_be_visible()
        await expect(notice).to_contain_text("WhatsApp messaging window closed")
        await page.screenshot(path=screenshot_path("composer-window-closed"))
        await notice.get_by_role("button", name="Reply on Telegram instead").click()
        await expect(picker).to_have_value("telegram")
        await expect(notice).to_be_hidden()
        await picker.select_option("whatsapp")
        await expect(notice).to_be_visible()

    async def test_on_a_phone_the_composer_fits(self, chromium: Browser, server, web_app, sessions,
                                               ingest_config) -> None:
        email = await make_user(sessions, Role.agent, name="Ayşe Demir")
        identity = await _sule_writes(web_app, ingest_config)
        async with web_app.state.sessions() as session:
            thread_id = (await threads.for_customer(session, identity.customer_id)).id
        page = await (await chromium.new_context(viewport={"width": 390, "height": 844}, locale="en-US")).new_page()
        await sign_in(page, server, email)
        await page.goto(f"{server}/inbox/threads/{thread_id}")
        composer = page.locator("#thread .composer")
        await expect(composer.locator("button[type=submit]")).to_be_visible()
        await page.screenshot(path=screenshot_path("composer-phone"), full_page=True)
        for part in (composer, composer.locator("button[type=submit]"), composer.locator("select[name=channel]")):
            box = await part.bounding_box()
            assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 390
