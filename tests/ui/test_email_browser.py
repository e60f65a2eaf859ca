"""An email thread in a real browser: subjects, what is new in each mail, the history one click away."""

from playwright.async_api import Browser, expect
from sqlalchemy import select

from inbox.agents.models import Role
from inbox.messages.models import Message
from tests.ui.conftest import screenshot_path, scroll_to
from tests.ui.steps import sign_in
from tests.web.test_email_smtp import Mail, deliver, eml, mail  # noqa: F401  (the listener and relay, set up alike)
from tests.web.users import make_user


async def _thread_of(sessions, provider_id: str) -> int:  # type: ignore[no-untyped-def]
    async with sessions() as session:
        return int((await session.execute(select(Message.thread_id).where(Message.provider_id == provider_id)))
                   .scalar_one())


class TestEmailThread:
    async def test_the_history_is_folded_and_the_full_mail_one_click_away(self, chromium: Browser, server, sessions,
                                                                         mail: Mail) -> None:  # noqa: F811
        email = await make_user(sessions, Role.agent, name="Deniz Kaya")
        await deliver(mail, eml("plain.eml"))
        await deliver(mail, eml("reply__quoted_history.eml"))
        # The same customer writes once more, in HTML only, with a script that must never run.
        html_mail = eml("html_only__script.eml").replace(b"Zeynep Kaya <zeynep.kaya@example.com>",
                                                         b"John Carter <john.carter@example.org>")
        await deliver(mail, html_mail)
        thread_id = await _thread_of(sessions, "<CAF3xYz+R9t8y7u6i5o4p3a2s1dQwErTy@mail.example.org>")
        page = await (await chromium.new_context(viewport={"width": 1440, "height": 1000}, locale="en-US")).new_page()
        dialogs: list[str] = []
        page.on("dialog", lambda dialog: dialogs.append(dialog.message))
        await sign_in(page, server, email)
        await page.goto(f"{server}/inbox/threads/{thread_id}")
        reply = page.locator(".message.inbound").filter(has_text="Yes, please re-send it")
        await expect(reply.locator(".subject")).to_have_text("Re: Where is my order #1001?")
        await expect(reply.locator(".body")).not_to_contain_text("Sorry for the delay")
        full = reply.locator("details.mail-full .full-text")
        await expect(full).to_be_hidden()
        await reply.get_by_text("Show full message").click()
        await expect(full).to_be_visible()
        await expect(full).to_contain_text("> Sorry for the delay. The carrier has not scanned parcel")
        # Another mail arrives while the history is open: the live redraw keeps it open.
        await deliver(mail, eml("alternative__tracking_pixel.eml").replace(
            b"Emily Stone <emily.stone@example.org>", b"John Carter <john.carter@example.org>"))
        await expect(page.locator(".message.inbound").filter(has_text="Can I change the delivery address")
                     ).to_be_visible()
        await expect(full).to_be_visible()
        await scroll_to(reply)
        await page.screenshot(path=screenshot_path("email-thread-history"))
        formatted = page.locator(".message.inbound").filter(has_text="IADE-1006")
        await formatted.get_by_text("Show full message").click()
        frame = page.frame_locator(f"#message-{await _html_message(sessions)} iframe.mail-html")
        await expect(frame.locator("b")).to_have_text("iade kodu")
        await scroll_to(formatted)
        await page.screenshot(path=screenshot_path("email-thread-html"))
        assert dialogs == []


async def _html_message(sessions) -> int:  # type: ignore[no-untyped-def]
    async with sessions() as session:
        return int((await session.execute(select(Message.id).where(
            Message.provider_id == "<html-only-4711@mail.example.com>"))).scalar_one())
