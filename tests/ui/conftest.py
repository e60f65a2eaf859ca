"""A real browser: Debian's chromium driven by Playwright, headless, against the real server."""

import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, Locator, async_playwright

from tests.web.conftest import app_settings, server, sessions, web_app  # noqa: F401  (the same real server the API tests use)

CHROMIUM = "/usr/bin/chromium"
SCREENSHOTS = Path(__file__).resolve().parents[1] / "artifacts" / "screenshots"


@pytest.fixture
async def chromium() -> AsyncIterator[Browser]:
    if shutil.which(CHROMIUM) is None:
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium (apt-get install chromium), as .ci/run does")
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        yield browser
        await browser.close()


def screenshot_path(name: str) -> str:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return str(SCREENSHOTS / f"{name}.png")


async def scroll_to(element: Locator) -> None:
    """Scrolls an element into view for a screenshot.

    A live redraw may replace the element at any moment: Playwright's own scroll waits for the element to be
    stable and fails when it is detached meanwhile, while this finds and scrolls it in one step."""
    await element.evaluate("node => node.scrollIntoView({block: 'center'})")
