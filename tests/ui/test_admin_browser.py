"""An admin sets up the shop in a real browser: people, teams, tags, canned answers and the channels."""

import pytest
from playwright.async_api import Browser, Page, expect

from inbox.agents.models import Role
from tests.ui.conftest import screenshot_path
from tests.ui.steps import sign_in
from tests.web.test_webhooks import TWILIO_ENV
from tests.web.users import make_user

DESKTOP = {"width": 1440, "height": 900}
PHONE = {"width": 390, "height": 844}


@pytest.fixture
def _twilio(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in TWILIO_ENV.items():
        monkeypatch.setenv(name, value)


async def _admin_page(chromium: Browser, server: str, sessions, viewport: dict[str, int] = DESKTOP) -> Page:
    email = await make_user(sessions, Role.admin, name="Deniz Kara")
    context = await chromium.new_context(viewport=viewport, locale="en-US",
                                         permissions=["clipboard-read", "clipboard-write"])
    page = await context.new_page()
    await sign_in(page, server, email)
    return page


@pytest.mark.usefixtures("_twilio")
class TestAdminSetsUpTheShop:
    async def test_people_teams_tags_canned_responses_and_channels(self, chromium: Browser, server,
                                                                  sessions) -> None:
        page = await _admin_page(chromium, server, sessions)
        await page.get_by_role("link", name="Admin", exact=True).click()
        await expect(page).to_have_url(f"{server}/admin/users")

        add = page.locator("form[action='/admin/users']")
        await add.get_by_label("Name").fill("Zeynep Şahin")
        await add.get_by_label("Email").fill("zeynep@shop.example")
        await add.get_by_label("Initial password").fill("a long password")
        await add.get_by_role("button", name="Add user").click()
        await expect(page.locator(".notice")).to_have_text("Saved.")
        await expect(page.locator("tbody tr", has_text="zeynep@shop.example")).to_contain_text("Active")
        await page.screenshot(path=screenshot_path("admin-users"), full_page=True)

        await page.get_by_role("link", name="Teams", exact=True).click()
        new_team = page.locator("form[action='/admin/teams']")
        await new_team.get_by_label("Team name").fill("İadeler")
        await new_team.get_by_label("Zeynep Şahin").check()
        await new_team.get_by_role("button", name="Create team").click()
        saved_team = page.locator("form.team", has=page.locator("input[value='İadeler']"))
        await expect(saved_team.get_by_label("Zeynep Şahin")).to_be_checked()
        await expect(saved_team.get_by_label("Deniz Kara")).not_to_be_checked()
        await page.screenshot(path=screenshot_path("admin-teams"), full_page=True)

        await page.get_by_role("link", name="Tags", exact=True).click()
        new_tag = page.locator("form[action='/admin/tags']")
        await new_tag.get_by_placeholder("Tag name").fill("vip")
        await new_tag.locator(".swatch").nth(3).click()
        await new_tag.get_by_role("button", name="Create tag").click()
        chip = page.locator(".tag-chip", has_text="vip")
        await expect(chip).to_be_visible()
        assert await chip.evaluate("el => getComputedStyle(el).backgroundColor") == "rgb(255, 216, 168)"
        await page.screenshot(path=screenshot_path("admin-tags"), full_page=True)

        await page.get_by_role("link", name="Canned responses").click()
        new_answer = page.locator("form[action='/admin/canned']")
        await new_answer.get_by_label("Shortcut").fill("kargo")
        await new_answer.get_by_label("Title").fill("Kargo durumu")
        await new_answer.get_by_label("Text").fill("Merhaba {{customer.first_name}}, #{{order.number}} yolda.")
        await expect(new_answer.locator("[data-canned-preview]")).to_have_text("Merhaba Ayşe, #1042 yolda.")
        await new_answer.get_by_role("button", name="Create response").click()
        await expect(page.locator("details.canned summary")).to_contain_text("/kargo")
        await page.screenshot(path=screenshot_path("admin-canned"), full_page=True)

        await page.get_by_role("link", name="Channels").click()
        whatsapp = page.locator("#channel-whatsapp")
        await expect(whatsapp).to_contain_text("Configured")
        await whatsapp.get_by_role("button", name="Copy").first.click()
        await expect(whatsapp.locator(".copied").first).to_have_text("Copied")
        copied = await page.evaluate("navigator.clipboard.readText()")
        assert copied == "https://inbox.example.com/webhooks/twilio/whatsapp"
        shop = page.locator("#shop-shopify")
        await shop.get_by_role("button", name="Copy").click()
        assert await page.evaluate("navigator.clipboard.readText()") == "https://inbox.example.com/webhooks/shopify"
        await page.screenshot(path=screenshot_path("admin-channels"), full_page=True)

    async def test_the_admin_pages_fit_a_phone(self, chromium: Browser, server, sessions) -> None:
        page = await _admin_page(chromium, server, sessions, PHONE)
        for name in ("users", "channels"):
            await page.goto(f"{server}/admin/{name}")
            await page.screenshot(path=screenshot_path(f"admin-{name}-phone"), full_page=True)
            width = await page.evaluate("document.documentElement.scrollWidth")
            assert width <= PHONE["width"], (name, width)


class TestAccountAndErrors:
    async def test_the_account_page_switches_the_language(self, chromium: Browser, server, sessions) -> None:
        page = await _admin_page(chromium, server, sessions)
        await page.locator("a.who").click()
        await expect(page.get_by_role("heading", name="Your account")).to_be_visible()
        await page.screenshot(path=screenshot_path("account"), full_page=True)
        await page.get_by_label("Language").select_option("tr")
        await page.get_by_role("button", name="Save").first.click()
        await expect(page.get_by_role("heading", name="Hesabınız")).to_be_visible()
        await page.goto(f"{server}/inbox")
        await expect(page.get_by_role("button", name="Çıkış yap")).to_be_visible()

    async def test_a_store_user_is_told_where_to_go(self, chromium: Browser, server, sessions) -> None:
        email = await make_user(sessions, Role.store, name="Kadıköy Mağaza")
        page = await (await chromium.new_context(viewport=DESKTOP, locale="en-US")).new_page()
        await page.goto(f"{server}/login")
        await page.locator("input[name=email]").fill(email)
        await page.locator("input[name=password]").fill("correct horse battery")
        await page.locator("button[type=submit]").click()
        await page.goto(f"{server}/inbox")
        await expect(page.get_by_role("heading", name="This page is not open to you")).to_be_visible()
        await expect(page.locator("main")).to_contain_text("The inbox is for agents and admins")
        await page.screenshot(path=screenshot_path("error-store-opens-inbox"), full_page=True)
        # Their own page is the store counter's lookup.
        await page.get_by_role("link", name="Look up a customer").click()
        await expect(page).to_have_url(f"{server}/store")

    async def test_an_htmx_error_shows_as_a_toast(self, chromium: Browser, server, sessions) -> None:
        page = await _admin_page(chromium, server, sessions)
        await page.goto(f"{server}/inbox")
        await page.evaluate("""() => htmx.ajax("POST", "/inbox/threads/424242/status", {
            target: "body", swap: "none", values: {status: "resolved"},
            headers: JSON.parse(document.body.getAttribute("hx-headers"))})""")
        toast = page.locator("#flash .toast")
        await expect(toast).to_contain_text("That is no longer here")
        await page.screenshot(path=screenshot_path("error-toast"))
        await toast.get_by_role("button", name="Dismiss").click()
        await expect(toast).to_have_count(0)
