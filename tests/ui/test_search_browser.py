"""Searching in a real browser: the / key, Turkish hits highlighted, landing on a message deep in a thread,
and older history loading as the agent scrolls up, without the page jumping."""

from datetime import UTC, datetime, timedelta

from playwright.async_api import Browser, Page, ViewportSize, expect

from inbox.agents.models import Role
from inbox.channels import Channel
from inbox.db import transaction
from inbox.events import Direction
from inbox.messages import service as messages
from inbox.threads import service as threads
from tests.factories import make_order
from tests.ui.conftest import screenshot_path
from tests.ui.steps import customer_writes, message_written, sign_in
from tests.web.users import make_user

WIDE: ViewportSize = {"width": 1440, "height": 900}


async def _more_messages(sessions, thread_id: int, count: int, *, start: datetime) -> None:
    """`count` newer messages in the thread, a minute apart, from `start` on."""
    async with transaction(sessions) as tx:
        thread = await threads.get(tx, thread_id)
        await messages.append_many(tx, [
            (thread, messages.NewMessage(direction=Direction.inbound, channel=Channel.whatsapp, text=f"mesaj {n}",
                                         provider_id=f"more-{thread_id}-{n}", provider_at=start + timedelta(minutes=n)))
            for n in range(1, count + 1)])


async def _scroll_state(page: Page) -> dict:
    return await page.evaluate("""() => { const list = document.getElementById("messages");
        return { top: list.scrollTop, height: list.scrollHeight, client: list.clientHeight }; }""")


class TestSearchBox:
    async def test_slash_focuses_search_and_a_turkish_query_shows_highlighted_hits(
            self, chromium: Browser, server, sessions, ingest_config) -> None:
        email = await make_user(sessions, Role.agent, name="Ayşe Demir")
        await customer_writes(sessions, ingest_config, "SM1", "+905321234567", "Işıl Öztürk",
                              "Merhaba, ışık yanmıyor; lamba arızalı geldi. İADE etmek istiyorum.")
        await customer_writes(sessions, ingest_config, "SM2", "+905329876543", "Kerem Işık", "Kargom nerede?")
        await customer_writes(sessions, ingest_config, "SM3", "+905551112233", "<b>Hacker</b>",
                              "<script>alert(1)</script> ışıklı tabela")
        _, thread_id = await message_written(sessions, "Kargom nerede?")
        async with transaction(sessions) as tx:
            await make_order(tx, customer_id=(await threads.get(tx, thread_id)).customer_id, external_id="shop-1042",
                             number="1042", status="shipped", total="1249.90",
                             placed_at=datetime(2026, 11, 20, 14, 5, tzinfo=UTC))
        page = await (await chromium.new_context(viewport=WIDE, locale="en-US")).new_page()
        dialogs: list[str] = []
        page.on("dialog", lambda dialog: dialogs.append(dialog.message))
        await sign_in(page, server, email)

        box = page.locator(".topsearch input")
        await page.keyboard.press("/")
        await expect(box).to_be_focused()
        await expect(box).to_have_value("")
        await page.keyboard.type("ISIK")
        await page.keyboard.press("Escape")
        await expect(box).not_to_be_focused()
        await expect(box).to_have_value("ISIK")
        await page.keyboard.press("/")
        await page.keyboard.type("isik")
        await page.keyboard.press("Enter")
        await page.wait_for_url(f"{server}/search?q=isik")

        hits = page.locator("#results-message .hit")
        await expect(hits).to_have_count(2)
        await expect(hits.nth(0).locator("mark")).to_have_text(["ışıklı"])
        await expect(hits.nth(0)).to_contain_text("<script>alert(1)</script>")
        await expect(hits.nth(1).locator("mark")).to_have_text(["ışık"])
        await expect(page.locator("#results-customer .hit mark")).to_have_text(["Işık"])
        await expect(page.locator('[data-count="message"]')).to_have_text("2")
        await expect(page.locator(".topsearch input")).to_have_value("isik")
        await page.screenshot(path=screenshot_path("search-en"), full_page=True)

        await box.fill("#1042")
        await box.press("Enter")
        await expect(page.locator("#results-order .hit mark")).to_have_text(["1042"])
        await page.locator("#results-order .hit a").click()
        await page.wait_for_url(f"{server}/inbox/threads/{thread_id}#order-*")
        await expect(page.locator(".order:target")).to_contain_text("#1042")
        assert dialogs == []

        tr = await (await chromium.new_context(viewport=WIDE, locale="tr-TR")).new_page()
        await sign_in(tr, server, email)
        await tr.goto(f"{server}/search?q=iade")
        await expect(tr.locator("#results-message h2")).to_contain_text("Mesajlar")
        await expect(tr.locator("#results-message .hit mark")).to_have_text(["İADE"])
        await tr.screenshot(path=screenshot_path("search-tr"), full_page=True)
        await tr.goto(f"{server}/search")
        await expect(tr.locator(".search-empty h1")).to_have_text("Müşterilerde, mesajlarda ve siparişlerde ara")
        await tr.screenshot(path=screenshot_path("search-empty-tr"))

        phone = await (await chromium.new_context(viewport={"width": 390, "height": 844}, locale="en-US")).new_page()
        await sign_in(phone, server, email)
        await phone.goto(f"{server}/search?q=isik")
        await expect(phone.locator("#results-message .hit")).to_have_count(2)
        width = await phone.evaluate("document.documentElement.scrollWidth")
        assert width <= 390
        await phone.screenshot(path=screenshot_path("search-phone"), full_page=True)


class TestLanding:
    async def test_a_message_hit_opens_on_the_message_under_120_newer_ones_and_later_ones_follow(
            self, chromium: Browser, server, sessions, ingest_config) -> None:
        email = await make_user(sessions, Role.agent)
        await customer_writes(sessions, ingest_config, "SM0", "+905321234567", "Şule Çelik", "ilk mesaj")
        await customer_writes(sessions, ingest_config, "SM1", "+905321234567", "Şule Çelik",
                              "Sipariş ettiğim ışıklı ayna kırık geldi")
        message_id, thread_id = await message_written(sessions, "Sipariş ettiğim ışıklı ayna kırık geldi")
        await _more_messages(sessions, thread_id, 120, start=datetime.now(UTC) + timedelta(seconds=1))
        page = await (await chromium.new_context(viewport=WIDE, locale="en-US")).new_page()
        await sign_in(page, server, email)
        await page.goto(f"{server}/search?q=aynA kirik")
        await page.locator("#results-message .hit a").click()
        await page.wait_for_url(f"{server}/inbox/threads/{thread_id}?message={message_id}")

        landed = page.locator(f"#message-{message_id}")
        await expect(landed).to_have_class("message inbound landed flash")
        await expect(landed).to_be_in_viewport()
        await expect(page.locator("#messages .message", has_text="mesaj 120")).to_have_count(0)
        await page.screenshot(path=screenshot_path("search-landed"))

        # Scrolling down brings the newer history, page by page, up to the newest message.
        newest = page.locator("#messages .message", has_text="mesaj 120")
        for _ in range(20):
            if await newest.count():
                break
            await page.evaluate("() => { const list = document.getElementById('messages');"
                                " list.scrollTop = list.scrollHeight; }")
            await page.wait_for_timeout(250)
        await expect(newest).to_have_count(1)
        await expect(page.locator("#messages[data-newer]")).to_have_count(0)
        texts = await page.locator("#messages .message .body").all_inner_texts()
        assert texts[-120:] == [f"mesaj {n}" for n in range(1, 121)] and len(set(texts)) == len(texts)


async def _open_long_thread(chromium: Browser, server: str, sessions, ingest_config, *, newer: int) -> Page:
    """An agent's page open on Şule's thread: "mesaj 0" and `newer` messages after it, the newest 50 shown."""
    email = await make_user(sessions, Role.agent)
    await customer_writes(sessions, ingest_config, "SM0", "+905321234567", "Şule Çelik", "mesaj 0")
    _, thread_id = await message_written(sessions, "mesaj 0")
    await _more_messages(sessions, thread_id, newer, start=datetime.now(UTC) + timedelta(seconds=1))
    page = await (await chromium.new_context(viewport=WIDE, locale="en-US")).new_page()
    await sign_in(page, server, email)
    await page.goto(f"{server}/inbox/threads/{thread_id}")
    await expect(page.locator("#messages .message")).to_have_count(50)
    return page


class TestOlderHistory:
    async def test_scrolling_up_loads_older_messages_without_moving_what_the_agent_reads(
            self, chromium: Browser, server, web_app, sessions, ingest_config) -> None:
        page = await _open_long_thread(chromium, server, sessions, ingest_config, newer=160)
        shown = page.locator("#messages .message")
        state = await _scroll_state(page)
        assert state["top"] + state["client"] >= state["height"] - 2  # opened on the newest message

        for expected in (100, 150, 162):
            # The reader reaches the top: the message there is the one they are reading.
            reading = await page.evaluate("""() => { const list = document.getElementById("messages");
                list.scrollTop = 0; const first = list.querySelector(".message");
                return { id: first.id, y: first.getBoundingClientRect().top }; }""")
            await expect(shown).to_have_count(expected)
            await page.wait_for_timeout(100)
            # Earlier messages went in above it, and it has not moved on the screen.
            y = await page.evaluate(f"document.getElementById('{reading['id']}').getBoundingClientRect().top")
            assert abs(y - reading["y"]) <= 1
            assert (await _scroll_state(page))["top"] > 600
        await expect(page.locator("#messages .history-more")).to_have_count(0)
        await expect(page.locator("#messages .message .body").first).to_have_text("mesaj 0")
        await page.screenshot(path=screenshot_path("older-history"))

        # A new message arrives while the agent reads far back: it joins the end, nothing moves.
        reading = await page.evaluate("""() => { const list = document.getElementById("messages");
            list.scrollTop = 2000; const top = list.getBoundingClientRect().top;
            const first = [...list.querySelectorAll(".message")].find((m) => m.getBoundingClientRect().top >= top);
            return { id: first.id, y: first.getBoundingClientRect().top }; }""")
        await customer_writes(web_app.state.sessions, ingest_config, "SM-new", "+905321234567", "Şule Çelik",
                              "yeni mesaj")
        await expect(page.locator("#messages .message .body").last).to_have_text("yeni mesaj", timeout=5000)
        await expect(page.locator("#messages .message .body")).to_have_count(162)
        await page.wait_for_timeout(100)
        y = await page.evaluate(f"document.getElementById('{reading['id']}').getBoundingClientRect().top")
        assert abs(y - reading["y"]) <= 1

    async def test_a_reader_left_at_the_top_by_a_failed_page_gets_it_when_the_pane_redraws(
            self, chromium: Browser, server, web_app, sessions, ingest_config) -> None:
        page = await _open_long_thread(chromium, server, sessions, ingest_config, newer=80)

        # The connection drops just as the reader reaches the top: the earlier page does not come.
        async def offline(route) -> None:
            await route.abort()
        def earlier(url: str) -> bool:
            return "before=" in url
        await page.route(earlier, offline)
        async with page.expect_event("requestfailed", lambda r: earlier(r.url)) as failed:
            await page.evaluate("document.getElementById('messages').scrollTop = 0")
        await failed.value
        await page.unroute(earlier)

        # A live message redraws the pane while they wait at the top: the earlier page comes with it.
        await customer_writes(web_app.state.sessions, ingest_config, "SM-new", "+905321234567", "Şule Çelik",
                              "yeni mesaj")
        await expect(page.locator("#messages .message .body").last).to_have_text("yeni mesaj")
        await expect(page.locator("#messages .message .body")).to_have_count(82)
        await expect(page.locator("#messages .message .body").first).to_have_text("mesaj 0")
