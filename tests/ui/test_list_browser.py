"""The list, its views and bulk actions, the thread's actions and the customer sidebar, in a real browser."""

from playwright.async_api import Browser, Page, expect

from inbox import tags
from inbox.agents import teams
from inbox.agents.models import Role
from inbox.channels import AddressKind, Channel
from inbox.customers import service as customers
from inbox.db import transaction
from inbox.events import InboundMessage, Party
from inbox.ingest import ingest
from inbox.threads import service as threads
from tests.factories import make_consent, make_preference
from tests.ui.conftest import screenshot_path
from tests.ui.steps import customer_writes, sign_in
from tests.web.users import make_user
from web.routes.ui import LIST_PAGE

CUSTOMERS = [("Şule Çelik", "+905321234560", "Kargom nerede?"), ("Mehmet Kaya", "+905321234561", "İade istiyorum"),
             ("Zeynep Ak", "+905321234562", "Fatura lazım"), ("Can Öz", "+905321234563", "Beden değişimi")]


async def _customers_write(sessions, ingest_config) -> None:
    for n, (name, phone, text) in enumerate(CUSTOMERS):
        await customer_writes(sessions, ingest_config, f"SM{n}", phone, name, text)
    async with transaction(sessions) as session:
        await ingest(session, InboundMessage(Channel.email, "<m1@example.net>", Party(
            "elif@example.net", AddressKind.email, True, "Elif Su"), text="Kargo ücreti?", subject="Kargo"),
            config=ingest_config)


async def _page(chromium: Browser, width: int = 1440, height: int = 900) -> Page:
    return await (await chromium.new_context(viewport={"width": width, "height": height}, locale="en-US")).new_page()


async def _signed_in_with_customers(chromium: Browser, server: str, sessions, ingest_config, *, width: int = 1440,
                                    height: int = 900) -> Page:
    """An agent signed in, with five customers who wrote in (the four CUSTOMERS and Elif by email)."""
    email = await make_user(sessions, Role.agent)
    await _customers_write(sessions, ingest_config)
    page = await _page(chromium, width, height)
    await sign_in(page, server, email)
    return page


def _row(page: Page, name: str):
    return page.locator(".conversation", has=page.locator(".name", has_text=name))


class TestViewsAndBulk:
    async def test_views_per_channel_tag_and_team_and_resolving_three_at_once(
            self, chromium: Browser, server, sessions, ingest_config) -> None:
        email = await make_user(sessions, Role.agent, name="Ayşe Demir")
        await _customers_write(sessions, ingest_config)
        async with transaction(sessions) as session:
            returns = await tags.create(session, name="iade")
            await tags.create(session, name="vip")
            team = await teams.create(session, name="Kargo ekibi")
            thread = await threads.for_customer(session, 2)
            await tags.set_case_tags(session, thread.case_id or 0, [returns.id or 0])
            await threads.assign(session, await threads.for_customer(session, 3), assignee_id=None, team_id=team.id)
        page = await _page(chromium)
        await sign_in(page, server, email)

        await expect(page.locator('[data-view-count="open"]')).to_have_text("5")
        await expect(page.locator('[data-view-count="channel:whatsapp"]')).to_have_text("4")
        await expect(page.locator('[data-view-count="channel:email"]')).to_have_text("1")
        await expect(page.locator(f'[data-view-count="tag:{returns.id}"]')).to_have_text("1")
        await expect(page.locator(f'[data-view-count="team:{team.id}"]')).to_have_text("1")
        await page.locator(".views a", has_text="Email").click()
        await expect(page.locator(".list h2")).to_have_text("Email")
        await expect(page.locator(".conversation .name")).to_have_text(["Elif Su"])
        await page.locator(".views a", has_text="#iade").click()
        await expect(page.locator(".conversation .name")).to_have_text(["Mehmet Kaya"])
        await page.locator(".views a", has_text="Kargo ekibi").click()
        await expect(page.locator(".conversation .name")).to_have_text(["Zeynep Ak"])

        await page.locator(".views a", has_text="All open").click()
        await expect(page.locator(".conversation")).to_have_count(5)
        # The live connection replays recent events when it opens, and the list refreshes once on them.
        await expect(page.locator("body")).to_have_attribute("data-live", "on")
        await page.wait_for_load_state("networkidle")
        toolbar = page.locator(".bulk")
        await expect(toolbar).to_be_hidden()
        # One click, a shift-click for the range below it: three selected.
        await _row(page, "Can Öz").locator(".pick").click()
        await _row(page, "Mehmet Kaya").locator(".pick").click(modifiers=["Shift"])
        await expect(toolbar).to_be_visible()
        await expect(toolbar.locator(".bulk-count")).to_have_text("3 selected")
        await page.screenshot(path=screenshot_path("list-bulk-toolbar"))
        await toolbar.get_by_label("Set status").select_option("status:resolved")
        await expect(page.locator(".conversation .name")).to_have_text(["Elif Su", "Şule Çelik"])
        await expect(page.locator('[data-view-count="open"]')).to_have_text("2")
        await expect(page.locator('[data-view-count="resolved"]')).to_have_text("3")
        await expect(toolbar).to_be_hidden()
        async with sessions() as reader:
            states = [(await threads.for_customer(reader, n)).status for n in range(1, 6)]
        assert states == ["open", "resolved", "resolved", "resolved", "open"]

    async def test_the_next_page_loads_when_the_list_is_scrolled_to_its_end(
            self, chromium: Browser, server, sessions, ingest_config) -> None:
        email = await make_user(sessions, Role.agent)
        async with transaction(sessions) as session:
            for n in range(57):
                await ingest(session, InboundMessage(Channel.whatsapp, f"SM{n}", Party(
                    f"whatsapp:+9053212{n:05d}", AddressKind.phone, True, f"Müşteri {n:02d}"), text=f"Merhaba {n}"),
                    config=ingest_config)
        page = await _page(chromium)
        await sign_in(page, server, email)
        rows = page.locator(".conversation")
        await expect(rows).to_have_count(LIST_PAGE)
        await expect(page.locator("body")).to_have_attribute("data-live", "on")
        # Each scroll to the end brings one more page, until the last (57 rows are three pages).
        for loaded in (2 * LIST_PAGE, 57):
            await page.locator(".list").evaluate("list => list.scrollTo(0, list.scrollHeight)")
            await expect(rows).to_have_count(loaded, timeout=15_000)
        await expect(rows.last.locator(".name")).to_have_text("Müşteri 00")
        # Keyboard: x selects the focused row; the select-all takes every loaded one.
        await rows.first.locator("a.open").click()
        await expect(page.locator("#thread-name")).to_have_text("Müşteri 56")
        await page.locator("#thread .messages").click()
        await page.keyboard.press("x")
        await expect(page.locator(".bulk .bulk-count")).to_have_text("1 selected")
        await page.locator(".pick-all").check()
        # Every loaded row (a live refresh keeps the scrolled ones too, see listing.js).
        await expect(page.locator(".bulk .bulk-count")).to_have_text(f"{await rows.count()} selected")


class TestThreadActions:
    async def test_snooze_until_tomorrow_moves_the_thread_to_snoozed(self, chromium: Browser, server, sessions,
                                                                    ingest_config) -> None:
        page = await _signed_in_with_customers(chromium, server, sessions, ingest_config)
        await page.goto(f"{server}/inbox?view=open")
        await _row(page, "Şule Çelik").locator("a.open").click()
        await expect(page.locator("#thread-name")).to_have_text("Şule Çelik")
        await page.keyboard.press("s")
        menu = page.locator(".snooze-menu .menu-body")
        await expect(menu).to_be_visible()
        await page.screenshot(path=screenshot_path("thread-snooze-menu"))
        await menu.get_by_role("button", name="Tomorrow 09:00").click()
        await expect(page.locator("#thread .status")).to_have_text("Snoozed")
        await expect(page.locator("#thread .snoozed-until")).to_contain_text("until")
        await expect(page.locator('[data-view-count="snoozed"]')).to_have_text("1")
        await page.locator(".views a", has_text="Snoozed").click()
        await expect(page.locator(".conversation .name")).to_have_text(["Şule Çelik"])

    async def test_a_snooze_in_the_past_is_refused_with_a_message(self, chromium: Browser, server, sessions,
                                                                  ingest_config) -> None:
        page = await _signed_in_with_customers(chromium, server, sessions, ingest_config)
        await page.goto(f"{server}/inbox/threads/1?view=open")
        await page.locator(".snooze-menu summary").click()
        await page.locator(".snooze-custom input[name=until]").fill("2020-01-01T09:00")
        await page.locator(".snooze-custom button").click()
        await expect(page.locator("#flash .toast")).to_contain_text("future")
        await expect(page.locator("#thread .status")).to_have_text("Open")

    async def test_tag_a_case_and_find_it_in_the_tag_view(self, chromium: Browser, server, sessions,
                                                          ingest_config) -> None:
        page = await _signed_in_with_customers(chromium, server, sessions, ingest_config)
        async with transaction(sessions) as session:
            vip = await tags.create(session, name="vip")
        await page.goto(f"{server}/inbox/threads/2?view=open")
        await page.keyboard.press("t")
        await page.locator(".tags-menu .menu-body").get_by_role("button", name="#vip").click()
        await expect(page.locator(".case-tags .tag-chip")).to_have_text(["#vip×"])
        await expect(page.locator(f'[data-view-count="tag:{vip.id}"]')).to_have_text("1")
        await page.locator(".views a", has_text="#vip").click()
        await expect(page.locator(".conversation .name")).to_have_text(["Mehmet Kaya"])
        await page.goto(f"{server}/inbox/threads/2?view=tag:{vip.id}")
        await page.get_by_role("button", name="Remove tag vip").click()
        await expect(page.locator(".case-tags .tag-chip")).to_have_count(0)


class TestSidebar:
    async def test_edit_the_name_and_note_and_see_preferences_and_consents(
            self, chromium: Browser, server, sessions, ingest_config) -> None:
        page = await _signed_in_with_customers(chromium, server, sessions, ingest_config)
        async with transaction(sessions) as session:
            await make_preference(session, customer_id=1, key="beden", value="38", source="stated",
                                  source_channel="whatsapp")
            await make_consent(session, customer_id=1, channel="whatsapp", granted=True)
            await make_consent(session, customer_id=1, channel="email", granted=False, source="agent")
        await page.goto(f"{server}/inbox/threads/1?view=open")
        sidebar = page.locator("#sidebar")
        await expect(sidebar.locator(".preferences")).to_contain_text("38")
        await expect(sidebar.locator(".preferences")).to_contain_text("customer")
        await expect(sidebar.locator(".preferences")).to_contain_text("WhatsApp")
        await expect(sidebar.locator(".consents li")).to_have_count(2)
        await expect(sidebar.locator(".consents")).to_contain_text("withdrawn")

        name = sidebar.get_by_label("Customer name")
        await name.fill("Şule Çelik Yılmaz")
        await name.press("Enter")
        await expect(page.locator("#thread-name")).to_have_text("Şule Çelik Yılmaz")
        await sidebar.get_by_label("Note about this customer").fill("Kapıda ödeme istemiyor.")
        await sidebar.get_by_role("button", name="Save note").click()
        await expect(page.locator("#sidebar .saved")).to_have_text("Saved")
        await page.screenshot(path=screenshot_path("sidebar"))
        async with sessions() as reader:
            customer = await customers.get(reader, 1)
        assert (customer.name, customer.note) == ("Şule Çelik Yılmaz", "Kapıda ödeme istemiyor.")
        await page.reload()
        await expect(page.locator("#sidebar").get_by_label("Customer name")).to_have_value("Şule Çelik Yılmaz")

    async def test_manual_merge_from_the_sidebar_search_then_undo(self, chromium: Browser, server, sessions,
                                                                  ingest_config) -> None:
        page = await _signed_in_with_customers(chromium, server, sessions, ingest_config)
        page.on("dialog", lambda dialog: dialog.accept())
        await page.goto(f"{server}/inbox/threads/1?view=open")
        await page.locator(".merge-search summary").click()
        await page.get_by_label("Find a customer to merge").fill("elif@example.net")
        candidate = page.locator(".candidate", has_text="Elif Su")
        await expect(candidate).to_be_visible()
        await expect(candidate.locator(".identities")).to_contain_text("elif@example.net")
        await page.screenshot(path=screenshot_path("sidebar-merge-search"))
        await candidate.get_by_role("button", name="Merge").click()
        await expect(page.locator(".undo-merge")).to_contain_text("Merged Elif Su into this customer.")
        await expect(page.locator("#sidebar .identities").first).to_contain_text("elif@example.net")
        await expect(page.locator("#thread .messages")).to_contain_text("Kargo ücreti?")
        await expect(page.locator('[data-view-count="open"]')).to_have_text("4")
        await page.locator(".undo-merge").get_by_role("button", name="Undo").click()
        await expect(page.locator(".undo-merge")).to_have_count(0)
        await expect(page.locator("#sidebar .identities").first).not_to_contain_text("elif@example.net")
        await expect(page.locator('[data-view-count="open"]')).to_have_text("5")


class TestPhone:
    async def test_the_list_with_its_views_on_a_phone(self, chromium: Browser, server, sessions,
                                                      ingest_config) -> None:
        page = await _signed_in_with_customers(chromium, server, sessions, ingest_config, width=390, height=844)
        await page.goto(f"{server}/inbox?view=open")
        await _row(page, "Can Öz").locator(".pick").click()
        await expect(page.locator(".bulk")).to_be_visible()
        # Found and measured in one task of the page: a live refresh may swap the list between a
        # locator's finding it and measuring it (a detached element measures 0).
        width = await page.evaluate("() => document.querySelector('.list').getBoundingClientRect().width")
        assert width >= 380
        await page.screenshot(path=screenshot_path("list-phone"))
