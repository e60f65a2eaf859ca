"""Stored XSS: script-injection payloads sent through every channel into every field an agent or
a store employee sees, rendered in a real browser. No script may run.

Each page is opened twice: once as served, and once with the Content-Security-Policy switched off
(Playwright's bypass_csp), so that escaping alone is what is tested; the policy is the second
lock, and tests/web/test_security_headers.py checks it is there.
"""

import asyncio
import hashlib
import hmac
import json
import smtplib
import time
from email.headerregistry import Address
from email.message import EmailMessage
from typing import Any
from urllib.parse import quote, urlencode

import httpx
import pytest
from playwright.async_api import Browser, Page
from sqlalchemy import select

from inbox.agents.models import Role
from inbox.agents.service import issue_token
from inbox.channels import AddressKind, Channel
from inbox.db import transaction
from inbox.events import InboundMessage, Party
from inbox.ingest import ingest
from inbox.threads.models import Thread
from tests.adapters.whatsapp.test_whatsapp import twilio_signature
from tests.soak.figures import record
from tests.soak.webhooks import META_SECRET, PAGE_ID, PUBLIC_BASE_URL, SETTINGS, TELEGRAM_SECRET, TWILIO_TOKEN
from tests.ui.conftest import screenshot_path
from tests.web.test_cli import _free_port
from tests.web.users import PASSWORD, browser_for, make_user

# Tags, attributes, URLs, SVG, CSS, mutation XSS and encoded forms; each one, if it ran, would
# open a dialog saying which it was.
PAYLOADS = [
    "<script>alert('xss-1')</script>",
    "<img src=x onerror=alert('xss-2')>",
    "<svg/onload=alert('xss-3')>",
    "\"><script>alert('xss-4')</script>",
    "'><img src=x onerror=alert('xss-5')>",
    "<a href=\"javascript:alert('xss-6')\">click</a>",
    "<a href=\"jav&#x61;script:alert('xss-7')\">click</a>",
    "<iframe src=\"javascript:alert('xss-8')\"></iframe>",
    "<details open ontoggle=alert('xss-9')>",
    "<body onload=alert('xss-10')>",
    "<math><mtext><table><mglyph><style><img src=x onerror=alert('xss-11')>",
    "<div style=\"background:url(javascript:alert('xss-12'))\">x</div>",
    "<svg><script>alert('xss-13')</script></svg>",
    "<object data=\"javascript:alert('xss-14')\"></object>",
    "<input autofocus onfocus=alert('xss-15')>",
    "<video><source onerror=alert('xss-16')></video>",
    "%3Cscript%3Ealert('xss-17')%3C/script%3E",
    "&lt;img src=x onerror=alert('xss-18')&gt;",
    "<noscript><p title=\"</noscript><img src=x onerror=alert('xss-19')>\">",
    "javascript:alert('xss-20')",
]
MARK = "xsstest"  # in every payload's message, so search finds them all


def _payload(n: int) -> str:
    return f"{MARK} {n} {PAYLOADS[n]}"


@pytest.fixture
def smtp_port() -> int:
    return _free_port()


@pytest.fixture
def configured(monkeypatch: pytest.MonkeyPatch, smtp_port: int) -> None:
    for name, value in {**SETTINGS, "META_GRAPH_BASE_URL": "http://127.0.0.1:9",
                        "SUPPORT_ADDRESSES": "destek@shop.example", "SMTP_LISTEN_PORT": str(smtp_port)}.items():
        monkeypatch.setenv(name, value)


@pytest.fixture
def app_settings(db_url, tmp_path, configured):  # type: ignore[no-untyped-def]
    from inbox.config import CoreSettings
    from tests.conftest import TEST_REDIS_URL

    return CoreSettings(data_dir=tmp_path / "data", database_url=db_url, redis_url=TEST_REDIS_URL)


async def _webhooks(server: str) -> int:
    """WhatsApp, Messenger and Telegram messages whose text and sender names are payloads."""
    sent = 0
    async with httpx.AsyncClient(base_url=server) as provider:
        for n in range(len(PAYLOADS)):
            params = {"MessageSid": f"SMxss{n:04d}", "AccountSid": SETTINGS["TWILIO_ACCOUNT_SID"],
                      "From": f"whatsapp:+9053390{n:05d}", "To": "whatsapp:+14155550100",
                      "ProfileName": PAYLOADS[n], "Body": _payload(n), "NumMedia": "0"}
            path = "/webhooks/twilio/whatsapp"
            signature = twilio_signature(PUBLIC_BASE_URL + path, {k: [v] for k, v in params.items()},
                                         token=TWILIO_TOKEN)
            answered = await provider.post(path, content=urlencode(params), headers={
                "Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": signature})
            assert answered.status_code == 200, answered.text
            now = int(time.time() * 1000)
            body = json.dumps({"object": "page", "entry": [{"id": PAGE_ID, "time": now, "messaging": [{
                "sender": {"id": str(7_200_000_000_000_000 + n)}, "recipient": {"id": PAGE_ID}, "timestamp": now,
                "message": {"mid": f"m_xss{n}", "text": _payload(n)}}]}]}).encode()
            answered = await provider.post("/webhooks/messenger", content=body, headers={
                "Content-Type": "application/json",
                "X-Hub-Signature-256": "sha256=" + hmac.new(META_SECRET.encode(), body, hashlib.sha256).hexdigest()})
            assert answered.status_code == 200, answered.text
            person = {"id": 610_000_000 + n, "is_bot": False, "first_name": PAYLOADS[n], "last_name": PAYLOADS[-1]}
            update = {"update_id": 9000 + n, "message": {"message_id": 9000 + n, "from": person,
                                                         "chat": {**person, "type": "private"},
                                                         "date": int(time.time()), "text": _payload(n)}}
            answered = await provider.post("/webhooks/telegram", json=update,
                                           headers={"X-Telegram-Bot-Api-Secret-Token": TELEGRAM_SECRET})
            assert answered.status_code == 200, answered.text
            sent += 3
    return sent


def _mails(port: int) -> int:
    """Mails whose subject, sender name, text, HTML and attachment names are payloads, over real SMTP."""
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as relay:
        for n in range(len(PAYLOADS)):
            mail = EmailMessage()
            mail["From"] = Address(PAYLOADS[n], addr_spec=f"xss{n}@example.net")  # quoted as a mail client does
            mail["To"] = "destek@shop.example"
            mail["Subject"] = _payload(n)
            mail["Message-ID"] = f"<xss-{n}@example.net>"
            mail.set_content(_payload(n))
            mail.add_alternative(f"<p>{MARK} {n}</p>{PAYLOADS[n]}<a href=\"javascript:alert('xss-html')\">x</a>",
                                 subtype="html")
            mail.add_attachment(b"%PDF-1.4 fatura", maintype="application", subtype="pdf", filename=PAYLOADS[n])
            relay.send_message(mail)
    return len(PAYLOADS)


async def _everything_else(server: str, sessions: Any, ingest_config: Any) -> int:
    """Web chat visitors, a logged call, an order whose every field is a payload, and preferences
    whose value is one, stated in the visitor's message (so the sidebar quotes it too)."""
    chats = []
    for n in range(len(PAYLOADS)):
        async with transaction(sessions) as session:
            chats.append(await ingest(session, InboundMessage(Channel.webchat, f"wc-xss-{n}",
                                                 Party(f"visitor:xss{n}", AddressKind.handle, True, PAYLOADS[n]),
                                                 text=_payload(n)), config=ingest_config))
    async with transaction(sessions) as session:
        token = await issue_token(session, name="xss")
        thread = (await session.execute(select(Thread).order_by(Thread.id))).scalars().first()
        assert thread is not None
    agent = await browser_for(server, await make_user(sessions, Role.agent, email="caller@shop.example"))
    async with httpx.AsyncClient(base_url=server, headers={"Authorization": f"Bearer {token}"}) as api:
        logged = await agent.post(f"/inbox/threads/{thread.id}/calls", data={
            "kind": "incoming", "outcome": "follow_up", "summary": _payload(0), "number": "+905339000000"})
        assert logged.status_code < 400, logged.text
        for n in range(len(PAYLOADS)):
            placed = await api.put(f"/api/v1/orders/XSS-{n}", json={
                "customer": {"email": f"xss{n}@example.net", "name": PAYLOADS[n]}, "status": PAYLOADS[n][:40],
                "total": "10.00", "currency": "TRY", "placed_at": "2026-11-30T10:00:00Z",
                "tracking_url": f"https://kargo.example/t?n={quote(PAYLOADS[n])}",
                "lines": [{"sku": PAYLOADS[n][:60], "title": PAYLOADS[n], "quantity": 1, "price": "10.00"}]})
            assert placed.status_code < 300, placed.text
        # The API refuses a tracking "link" that would run script (web/schemas.py): 422 naming it.
        refused = await api.put("/api/v1/orders/XSS-js", json={
            "customer": {"email": "xss0@example.net"}, "status": "paid", "total": "1.00", "currency": "TRY",
            "placed_at": "2026-11-30T10:00:00Z", "tracking_url": "javascript:alert('xss-order')", "lines": []})
        assert refused.status_code == 422 and refused.json()["detail"][0]["loc"][-1] == "tracking_url"
    for n, chat in enumerate(chats):
        saved = await agent.post(f"/inbox/threads/{chat.thread_id}/preferences", data={
            "key": "favourite_store", "value": PAYLOADS[n], "message_id": str(chat.message_id)})
        assert saved.status_code < 400, saved.text
    await agent.aclose()
    return 3 * len(PAYLOADS) + 1


_INJECTED = """() => {
    const handlers = [...document.querySelectorAll('*')].flatMap(e => [...e.attributes]
        .filter(a => a.name.startsWith('on')).map(a => e.tagName + '[' + a.name + ']'));
    const urls = [...document.querySelectorAll('[href],[src],[action],[data],[formaction]')].flatMap(e =>
        ['href', 'src', 'action', 'data', 'formaction'].map(n => e.getAttribute(n) || '')
        .filter(v => /^\\s*(javascript|vbscript|data:text\\/html)/i.test(v)).map(v => e.tagName + ' ' + v));
    const scripts = [...document.scripts].filter(s => !s.src).map(s => s.textContent.slice(0, 40));
    return [...handlers, ...urls, ...scripts];
}"""


async def _sign_in(page: Page, server: str, email: str) -> None:
    await page.goto(f"{server}/login")
    await page.locator("input[name=email]").fill(email)
    await page.locator("input[name=password]").fill(PASSWORD)
    await page.locator("button[type=submit]").click()
    await page.wait_for_load_state("networkidle")
    assert "/login" not in page.url


async def _visit(page: Page, url: str, found: dict[str, list[str]]) -> None:
    await page.goto(url, wait_until="load")
    for details in await page.locator("details.mail-full summary").all():  # open folded mails and their frames
        await details.click()
    # htmx marks what it is fetching; the page is done when nothing is marked and the frames have loaded.
    await page.wait_for_function("() => !document.querySelector('.htmx-request')")
    await page.wait_for_load_state("load")
    injected = await page.evaluate(_INJECTED)
    if injected:
        found.setdefault(url, []).extend(injected)


async def test_no_payload_runs_in_the_inbox_threads_search_or_the_store_lookup(
        chromium: Browser, server, sessions, ingest_config, smtp_port) -> None:
    sent = await _webhooks(server) + await asyncio.to_thread(_mails, smtp_port)
    sent += await _everything_else(server, sessions, ingest_config)
    agent_email = await make_user(sessions, Role.agent, email="xss-agent@shop.example")
    store_email = await make_user(sessions, Role.store, email="xss-store@shop.example")
    async with sessions() as session:
        threads = (await session.execute(select(Thread.id, Thread.customer_id))).all()
    pages = 0
    dialogs: list[str] = []
    console_errors: list[str] = []
    failed: list[str] = []  # what the console calls "Failed to load resource", with its address
    injected: dict[str, list[str]] = {}
    # Without the policy every page, so that escaping alone is tested; with it, a sample of each kind
    # of page, to see that the policy blocks nothing of our own (no console errors).
    for bypass_csp, sample in ((True, len(threads)), (False, 4)):
        for email, urls in ((agent_email, ["/inbox?view=open", f"/search?q={MARK}",
                                            *(f"/inbox/threads/{t}" for t, _ in threads[:sample])]),
                            (store_email, [f"/store?q={quote(MARK)}",
                                           *(f"/store/customers/{c}" for _, c in threads[:sample])])):
            context = await chromium.new_context(viewport={"width": 1440, "height": 900}, bypass_csp=bypass_csp)
            page = await context.new_page()
            page.on("dialog", lambda dialog: (dialogs.append(dialog.message), asyncio.ensure_future(dialog.dismiss())))
            page.on("console", lambda message: console_errors.append(f"{message.text} at {message.location.get('url')}")
                    if message.type == "error" else None)
            page.on("response", lambda response: failed.append(f"{response.status} {response.url}")
                    if response.status >= 400 else None)
            await _sign_in(page, server, email)
            for url in urls:
                await _visit(page, server + url, injected)
                pages += 1
            if bypass_csp and email == agent_email:
                await page.goto(f"{server}/inbox/threads/{threads[0][0]}")
                await page.screenshot(path=screenshot_path("xss-thread-escaped"))
            await context.close()
    record("stored xss", f"payloads {len(PAYLOADS)}, messages and records sent {sent}, pages rendered {pages}, "
           f"dialogs {len(dialogs)}, injected handlers/URLs/scripts {sum(map(len, injected.values()))}, "
           f"console errors {len(console_errors)}")
    assert dialogs == []
    assert injected == {}
    assert failed == []
    assert console_errors == []
