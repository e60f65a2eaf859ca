"""What an agent sees in a real browser: signing in, the views, the list, both languages."""

import re

from playwright.async_api import Browser, expect
from sqlalchemy import select
from sqlmodel import col

from inbox.agents.models import Role, User
from inbox.channels import AddressKind, Channel
from inbox.db import transaction
from inbox.events import InboundMessage, Party
from inbox.ingest import ingest
from inbox.messages import service as messages
from inbox.threads import service as threads
from tests.ui.conftest import screenshot_path
from tests.ui.steps import customer_writes, sign_in
from tests.web.users import PASSWORD, make_user


class TestSignInAndList:
    async def test_an_agent_signs_in_and_sees_the_open_conversations(self, chromium: Browser, server, sessions,
                                                                     ingest_config) -> None:
        email = await make_user(sessions, Role.agent, name="Ayşe Demir")
        await customer_writes(sessions, ingest_config, "SM1", "+905321234567", "Şule Çelik", "Kargom nerede?")
        await customer_writes(sessions, ingest_config, "SM2", "+905329876543", "<script>alert(1)</script>",
                               "<img src=x onerror=alert(2)> İade istiyorum")
        page = await (await chromium.new_context(viewport={"width": 1440, "height": 900}, locale="en-US")).new_page()
        dialogs: list[str] = []
        page.on("dialog", lambda dialog: dialogs.append(dialog.message))
        await page.goto(f"{server}/inbox")
        await expect(page.locator("button[type=submit]")).to_have_text("Sign in")
        await page.screenshot(path=screenshot_path("sign-in-en"))
        await sign_in(page, server, email)

        conversations = page.locator(".conversation")
        await expect(conversations).to_have_count(2)
        # Newest activity first; a hostile name and message are shown as text, never run.
        await expect(conversations.nth(0).locator(".name")).to_have_text("<script>alert(1)</script>")
        await expect(conversations.nth(0).locator(".preview")).to_contain_text("<img src=x onerror=alert(2)>")
        await expect(conversations.nth(1).locator(".name")).to_have_text("Şule Çelik")
        await expect(page.locator('[data-view-count="unassigned"]')).to_have_text("2")
        await page.screenshot(path=screenshot_path("inbox-en"))
        assert dialogs == []

    async def test_a_turkish_browser_gets_the_turkish_interface(self, chromium: Browser, server, sessions,
                                                                ingest_config) -> None:
        email = await make_user(sessions, Role.agent)
        await customer_writes(sessions, ingest_config, "SM1", "+905321234567", "Şule Çelik", "Kargom nerede?")
        page = await (await chromium.new_context(viewport={"width": 1440, "height": 900}, locale="tr-TR")).new_page()
        await page.goto(f"{server}/inbox")
        await expect(page.locator("button[type=submit]")).to_have_text("Giriş yap")
        await page.locator("input[name=email]").fill(email)
        await page.locator("input[name=password]").fill(PASSWORD)
        await page.locator("button[type=submit]").click()
        await expect(page.locator(".views a[aria-current=page]")).to_contain_text("Atanmamış")
        await expect(page.get_by_role("button", name="Çıkış yap")).to_be_visible()
        await page.screenshot(path=screenshot_path("inbox-tr"))

    async def test_on_a_phone_the_list_fills_the_screen(self, chromium: Browser, server, sessions,
                                                        ingest_config) -> None:
        email = await make_user(sessions, Role.agent)
        await customer_writes(sessions, ingest_config, "SM1", "+905321234567", "Şule Çelik", "Kargom nerede?")
        page = await (await chromium.new_context(viewport={"width": 390, "height": 844}, locale="en-US")).new_page()
        await sign_in(page, server, email)
        views, listing = await page.locator(".views").bounding_box(), await page.locator(".list").bounding_box()
        assert views is not None and listing is not None
        # The views shrink to one row of tabs; the list takes the width and the rest of the height.
        assert views["height"] < 80 and listing["width"] >= 380 and listing["y"] < 140
        await expect(page.locator(".panes > .thread")).to_be_hidden()
        await page.screenshot(path=screenshot_path("inbox-phone"))


class TestConversation:
    async def test_open_reply_note_assign_and_resolve(self, chromium: Browser, server, sessions,
                                                      ingest_config) -> None:
        email = await make_user(sessions, Role.agent, name="Ayşe Demir")
        await customer_writes(sessions, ingest_config, "SM1", "+905321234567", "Şule Çelik", "Kargom nerede?")
        page = await (await chromium.new_context(viewport={"width": 1440, "height": 900}, locale="en-US")).new_page()
        await sign_in(page, server, email)
        await page.locator(".conversation .open", has_text="Şule Çelik").click()
        thread = page.locator("#thread")
        await expect(thread.locator(".thread-head h2")).to_have_text("Şule Çelik")
        await expect(page).to_have_url(f"{server}/inbox/threads/1?view=unassigned")
        await expect(thread.locator(".identities")).to_contain_text("+905321234567")
        await expect(thread.locator(".composer select[name=channel]")).to_have_value("whatsapp")

        await thread.locator("textarea[name=text]").fill("Merhaba Şule, kargonuz yarın teslim edilecek.")
        await thread.locator("textarea[name=text]").press("Control+Enter")
        reply = page.locator("#thread .message.outbound")
        await expect(reply).to_contain_text("kargonuz yarın teslim edilecek")
        await expect(reply.locator(".meta strong")).to_have_text("Ayşe Demir")

        await page.locator("#thread input[name=kind][value=note]").check()
        await page.locator("#thread textarea[name=text]").fill("Kargo firmasını aradım.")
        await page.locator("#thread .composer button[type=submit]").click()
        note = page.locator("#thread .message.note")
        await expect(note).to_contain_text("Kargo firmasını aradım.")
        await expect(note.locator(".tag-note")).to_have_text("Internal note")

        await page.get_by_role("button", name="Assign to me").click()
        await expect(page.get_by_role("button", name="Unassign")).to_be_visible()
        await page.get_by_role("button", name="Resolve").click()
        await expect(page.locator("#thread .status")).to_have_text("Resolved")
        await page.screenshot(path=screenshot_path("conversation-en"))

        # What the browser showed is what was stored. No WhatsApp account is configured in this
        # server, so the delivery worker fails the reply with a reason instead of losing it.
        async with sessions() as reader:
            history = await messages.history(reader, 1, limit=10)
            thread_row = await threads.get(reader, 1)
        stored = [(m.direction, m.text, m.delivery_status, m.error) for m in history.messages if m.direction != "event"]
        assert stored == [
            ("inbound", "Kargom nerede?", None, None),
            ("outbound", "Merhaba Şule, kargonuz yarın teslim edilecek.", "failed", "channel not configured"),
            ("note", "Kargo firmasını aradım.", None, None),
        ]
        assert (thread_row.status, thread_row.assignee_id, thread_row.unread_count) == ("resolved", 1, 0)


class TestLive:
    async def test_a_desktop_notification_comes_for_my_conversations_only_while_the_tab_is_hidden(
            self, chromium: Browser, server, web_app, sessions, ingest_config) -> None:
        email = await make_user(sessions, Role.agent, email="ayse@shop.example", name="Ayşe")
        await customer_writes(sessions, ingest_config, "SM1", "+905321234567", "Şule Çelik", "Kargom nerede?")
        await customer_writes(sessions, ingest_config, "SM2", "+905551112233", "Işıl Öztürk", "İade kodu?")
        async with transaction(sessions) as session:
            me = (await session.execute(select(User).where(col(User.email) == email))).scalar_one()
            mine = await threads.for_customer(session, 1)
            await threads.assign(session, mine, assignee_id=me.id)
        context = await chromium.new_context(viewport={"width": 1440, "height": 900})
        # The browser's own Notification and visibility, stood in for: headless chromium shows neither.
        await context.add_init_script("""
            window.__shown = [];
            window.Notification = class { constructor(title, options) { window.__shown.push(options.body); } };
            window.Notification.permission = "granted";
            Object.defineProperty(document, "hidden", { get: () => true });
        """)
        page = await context.new_page()
        await sign_in(page, server, email)
        await page.goto(f"{server}/inbox?view=open")
        await expect(page.locator("body")).to_have_attribute("data-live", "on")
        await customer_writes(web_app.state.sessions, ingest_config, "SM3", "+905551112233", "Işıl Öztürk",
                               "Kodu bulamadım")
        await customer_writes(web_app.state.sessions, ingest_config, "SM4", "+905321234567", "Şule Çelik",
                               "Hâlâ bekliyorum")
        await expect(page.locator(".conversation").nth(0).locator(".preview")).to_contain_text("Hâlâ bekliyorum")
        await page.wait_for_timeout(300)
        assert await page.evaluate("window.__shown") == ["New message in a conversation assigned to you"]

    async def test_a_new_message_appears_in_an_open_inbox_and_thread_without_reload(
            self, chromium: Browser, server, web_app, sessions, ingest_config) -> None:
        email = await make_user(sessions, Role.agent)
        await customer_writes(sessions, ingest_config, "SM1", "+905321234567", "Şule Çelik", "Kargom nerede?")
        page = await (await chromium.new_context(viewport={"width": 1440, "height": 900})).new_page()
        await sign_in(page, server, email)
        await page.locator(".conversation .open", has_text="Şule Çelik").click()
        await expect(page.locator("body[data-live=on]")).to_have_count(1)

        # Two customers write through the server's own pipeline (as a webhook would).
        await customer_writes(web_app.state.sessions, ingest_config, "SM2", "+905321234567", "Şule Çelik",
                               "Bir de fatura lazım")
        await customer_writes(web_app.state.sessions, ingest_config, "SM3", "+905551112233", "Işıl Öztürk",
                               "Merhaba, iade kodu?")
        await expect(page.locator("#thread .message.inbound").last).to_have_text(
            re.compile("Bir de fatura lazım"), timeout=5000)
        conversations = page.locator(".conversation")
        await expect(conversations).to_have_count(2, timeout=5000)
        await expect(conversations.nth(0).locator(".name")).to_have_text("Işıl Öztürk")
        await expect(page.locator('[data-view-count="unassigned"]')).to_have_text("2")
        # The open thread stays selected through the refresh.
        await expect(page.locator(".conversation.selected .name")).to_have_text("Şule Çelik")

    async def test_a_message_that_arrives_while_the_thread_is_opening_is_shown_once_it_opens(
            self, chromium: Browser, server, web_app, sessions, ingest_config) -> None:
        email = await make_user(sessions, Role.agent)
        await customer_writes(sessions, ingest_config, "SM1", "+905321234567", "Şule Çelik", "Kargom nerede?")
        page = await (await chromium.new_context(viewport={"width": 1440, "height": 900})).new_page()
        await sign_in(page, server, email)
        await expect(page.locator("body[data-live=on]")).to_have_count(1)
        await page.evaluate("""document.addEventListener('onethread:live', (e) => {
            if (e.detail.kind === 'message.created') window.__arrived = true; })""")

        # The pane is drawn, then the customer writes and the agent's page hears of it, then the pane lands.
        async def slow_pane(route) -> None:
            drawn = await route.fetch()
            await customer_writes(web_app.state.sessions, ingest_config, "SM2", "+905321234567", "Şule Çelik",
                                  "Bir de fatura lazım")
            await page.wait_for_function("window.__arrived === true")
            await route.fulfill(response=drawn)
        def pane(url: str) -> bool:
            return re.search(r"/inbox/threads/\d+\?", url) is not None
        await page.route(pane, slow_pane)
        await page.locator(".conversation .open", has_text="Şule Çelik").click()
        await expect(page.locator("#thread .message.inbound").last).to_have_text(
            re.compile("Bir de fatura lazım"), timeout=5000)
        await page.unroute(pane)

    async def test_a_dropped_connection_catches_up_on_what_it_missed(self, chromium: Browser, server, web_app,
                                                                     sessions, ingest_config) -> None:
        email = await make_user(sessions, Role.agent)
        await customer_writes(sessions, ingest_config, "SM1", "+905321234567", "Şule Çelik", "Kargom nerede?")
        context = await chromium.new_context(viewport={"width": 1440, "height": 900})
        await context.add_init_script(_CUTTABLE_SOCKETS)
        page = await context.new_page()
        await sign_in(page, server, email)
        await expect(page.locator("body[data-live=on]")).to_have_count(1)
        # The catch-up on connecting refreshes the list once; let that finish first.
        await page.wait_for_load_state("networkidle")
        # The connection drops and stays down while a customer writes: nothing reaches the page.
        await page.evaluate("() => { window.__offline = true; window.__sockets.forEach((s) => s.close()); }")
        await expect(page.locator("body[data-live=off]")).to_have_count(1)
        await customer_writes(web_app.state.sessions, ingest_config, "SM2", "+905551112233", "Işıl Öztürk",
                               "Merhaba, iade kodu?")
        await page.wait_for_timeout(500)
        await expect(page.locator(".conversation")).to_have_count(1)
        # Back online, the client resumes after the last event it saw and gets the one it missed.
        await page.evaluate("() => { window.__offline = false; }")
        await expect(page.locator(".conversation")).to_have_count(2, timeout=15000)
        await expect(page.locator(".conversation").nth(0).locator(".name")).to_have_text("Işıl Öztürk")

    async def test_agents_see_who_else_is_on_the_thread(self, chromium: Browser, server, sessions,
                                                        ingest_config) -> None:
        ayse = await make_user(sessions, Role.agent, email="ayse@shop.example", name="Ayşe")
        mehmet = await make_user(sessions, Role.agent, email="mehmet@shop.example", name="Mehmet")
        await customer_writes(sessions, ingest_config, "SM1", "+905321234567", "Şule Çelik", "Kargom nerede?")
        pages = []
        for email in (ayse, mehmet):
            page = await (await chromium.new_context(viewport={"width": 1440, "height": 900})).new_page()
            await sign_in(page, server, email)
            await page.locator(".conversation .open", has_text="Şule Çelik").click()
            await expect(page.locator("body[data-live=on]")).to_have_count(1)
            pages.append(page)
        await pages[1].locator("#thread textarea[name=text]").type("Merhaba")
        await expect(pages[0].locator("#presence")).to_contain_text("Mehmet · typing…", timeout=12000)
        await pages[0].screenshot(path=screenshot_path("presence"))


# Lets a test cut the page's websocket and keep it from reconnecting until it says so.
_CUTTABLE_SOCKETS = """
window.__sockets = []; window.__offline = false;
const RealSocket = window.WebSocket;
window.WebSocket = function (url, protocols) {
  const socket = new RealSocket(window.__offline ? url.replace("/live", "/nowhere") : url, protocols);
  window.__sockets.push(socket);
  return socket;
};
Object.assign(window.WebSocket, { CONNECTING: 0, OPEN: 1, CLOSING: 2, CLOSED: 3, prototype: RealSocket.prototype });
"""


class TestKeyboard:
    async def test_j_k_move_through_conversations_and_keys_act_on_the_open_one(
            self, chromium: Browser, server, sessions, ingest_config) -> None:
        email = await make_user(sessions, Role.agent)
        await customer_writes(sessions, ingest_config, "SM1", "+905321234567", "Şule Çelik", "Kargom nerede?")
        await customer_writes(sessions, ingest_config, "SM2", "+905551112233", "Işıl Öztürk", "İade kodu?")
        page = await (await chromium.new_context(viewport={"width": 1440, "height": 900})).new_page()
        await sign_in(page, server, email)
        heading = page.locator("#thread .thread-head h2")
        await page.keyboard.press("j")
        await expect(heading).to_have_text("Işıl Öztürk")
        await page.keyboard.press("j")
        await expect(heading).to_have_text("Şule Çelik")
        await page.keyboard.press("k")
        await expect(heading).to_have_text("Işıl Öztürk")
        await page.keyboard.press("n")
        await expect(page.locator("#thread textarea[name=text]")).to_be_focused()
        await expect(page.locator("#thread input[name=kind][value=note]")).to_be_checked()
        # Letters typed in the composer are text, not shortcuts.
        await page.keyboard.type("jk e")
        await expect(heading).to_have_text("Işıl Öztürk")
        await page.keyboard.press("Escape")
        await page.keyboard.press("a")
        await expect(page.get_by_role("button", name="Unassign")).to_be_visible()
        await page.keyboard.press("e")
        await expect(page.locator("#thread .status")).to_have_text("Resolved")
        await page.keyboard.press("?")
        await expect(page.locator("#shortcuts")).to_be_visible()
        await page.screenshot(path=screenshot_path("shortcuts"))


class TestMergeSuggestion:
    async def _two_customers(self, sessions, ingest_config) -> None:
        async with transaction(sessions) as session:
            await ingest(session, InboundMessage(Channel.email, "<m1@mail>", Party(
                "ayse@example.net", AddressKind.email, True, "Ayşe Yılmaz"), text="Faturamı gönderir misiniz?"),
                config=ingest_config)
            await ingest(session, InboundMessage(Channel.webchat, "w1", Party(
                "AYSE@example.net", AddressKind.email, False, "Ayşe"), text="Sitede yazdım, fatura?"),
                config=ingest_config)

    async def _open_the_web_chat(self, chromium: Browser, server, sessions, ingest_config):  # type: ignore[no-untyped-def]
        """An agent on the web-chat customer's thread, whose typed email another customer proved."""
        email = await make_user(sessions, Role.agent)
        await self._two_customers(sessions, ingest_config)
        page = await (await chromium.new_context(viewport={"width": 1440, "height": 900})).new_page()
        await sign_in(page, server, email)
        await page.locator(".conversation .open", has_text="Sitede yazdım").click()
        return page

    async def test_merging_from_the_banner_joins_both_histories(self, chromium: Browser, server, sessions,
                                                                ingest_config) -> None:
        page = await self._open_the_web_chat(chromium, server, sessions, ingest_config)
        banner = page.locator("#thread .suggestion")
        await expect(banner).to_contain_text("Ayşe Yılmaz")
        await page.screenshot(path=screenshot_path("merge-suggestion"))
        await banner.get_by_role("button", name="Merge into this customer").click()
        await expect(page.locator("#thread .suggestion")).to_have_count(0)
        inbound = page.locator("#thread .message.inbound .body")
        await expect(inbound).to_have_text(["Faturamı gönderir misiniz?", "Sitede yazdım, fatura?"])
        await expect(page.locator("#thread .identities")).to_contain_text("verified")
        await expect(page.locator("#thread .identities")).to_contain_text("claimed")

    async def test_not_the_same_closes_the_suggestion_and_keeps_both(self, chromium: Browser, server, sessions,
                                                                     ingest_config) -> None:
        page = await self._open_the_web_chat(chromium, server, sessions, ingest_config)
        await page.locator("#thread .suggestion").get_by_role("button", name="Not the same").click()
        await expect(page.locator("#thread .suggestion")).to_have_count(0)
        await page.reload()
        await expect(page.locator("#thread .suggestion")).to_have_count(0)
        await expect(page.locator(".conversation")).to_have_count(2)
