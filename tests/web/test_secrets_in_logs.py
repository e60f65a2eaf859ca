"""No configured secret ever reaches the log, whatever goes wrong.

Every secret setting gets a value no other text could contain; then the app is made to fail in
the ways that log the most: forged webhooks on every channel, sends to providers that cannot be
reached, a wrong password, the channels check. Everything logged, by every logger at every level,
and everything printed, is searched for each value.
"""

import logging
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import select

from inbox.agents.models import Role
from inbox.channels import AddressKind, Channel
from inbox.db import transaction, utcnow
from inbox.events import InboundMessage, Party
from inbox.ingest import ingest
from inbox.messages.models import Message
from inbox.replies import queue_reply
from tests.waiting import until
from tests.web.test_cli import _env, _run_async
from tests.web.users import csrf_of, make_user

CLOSED = "http://127.0.0.1:9"  # nothing listens: every call fails at once
SECRETS = {
    "TWILIO_AUTH_TOKEN": "s3cret-twilio-7f1e", "META_APP_SECRET": "s3cret-meta-app-2c9a",
    "META_PAGE_ACCESS_TOKEN": "s3cret-meta-page-8d3b", "META_VERIFY_TOKEN": "s3cret-meta-verify-5e6f",
    "TELEGRAM_BOT_TOKEN": "123456:s3cret-telegram-bot-4a4a", "TELEGRAM_WEBHOOK_SECRET": "s3cret-telegram-hook-9b1c",
    "SMTP_PASSWORD": "s3cret-smtp-0d2e", "IMAP_PASSWORD": "s3cret-imap-6c7d",
    "WIDGET_IDENTITY_SECRET": "s3cret-widget-3f8a", "LINK_SECRET": "s3cret-link-1b5c",
    "SECRET_KEY": "s3cret-key-2e4f", "SHOPIFY_WEBHOOK_SECRET": "s3cret-shopify-7a0b",
}
SETTINGS = {
    **SECRETS, "PUBLIC_BASE_URL": "https://inbox.example.com", "TWILIO_ACCOUNT_SID": "AC" + "1" * 32,
    "TWILIO_WHATSAPP_FROM": "whatsapp:+14155550100", "TWILIO_API_BASE_URL": CLOSED, "META_GRAPH_BASE_URL": CLOSED,
    "TELEGRAM_API_BASE_URL": CLOSED, "SUPPORT_ADDRESSES": "destek@shop.example", "SMTP_LISTEN_PORT": "0",
    "SMTP_HOST": "127.0.0.1", "SMTP_PORT": "9", "SMTP_USERNAME": "destek@shop.example", "IMAP_HOST": "127.0.0.1",
    "IMAP_PORT": "9", "IMAP_USER": "destek@shop.example", "IMAP_SSL": "false", "DELIVERY_MAX_ATTEMPTS": "1",
}
PASSWORD_TYPED = "s3cret-typed-password-5d5d"


@pytest.fixture
def configured(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in SETTINGS.items():
        monkeypatch.setenv(name, value)


@pytest.fixture
def app_settings(db_url, tmp_path, configured):  # type: ignore[no-untyped-def]
    # Built after the environment is set: the app reads SECRET_KEY and LINK_SECRET from it.
    from inbox.config import CoreSettings
    from tests.conftest import TEST_REDIS_URL

    return CoreSettings(data_dir=tmp_path / "data", database_url=db_url, redis_url=TEST_REDIS_URL)


async def test_no_secret_is_logged_or_printed_whatever_fails(server, sessions, ingest_config, caplog, capfd,
                                                               tmp_path) -> None:
    caplog.set_level(logging.DEBUG)
    async with httpx.AsyncClient(base_url=server) as provider:
        forged = {"/webhooks/twilio/whatsapp": ("application/x-www-form-urlencoded", b"From=whatsapp%3A%2B1&Body=x",
                                                {"X-Twilio-Signature": "forged"}),
                  "/webhooks/messenger": ("application/json", b'{"object":"page","entry":[]}',
                                          {"X-Hub-Signature-256": "sha256=" + "0" * 64}),
                  "/webhooks/telegram": ("application/json", b'{"update_id":1}',
                                         {"X-Telegram-Bot-Api-Secret-Token": "forged"}),
                  "/webhooks/shopify": ("application/json", b"{}", {"X-Shopify-Hmac-Sha256": "Zm9yZ2Vk"})}
        for path, (kind, body, headers) in forged.items():
            answered = await provider.post(path, content=body, headers={"Content-Type": kind, **headers})
            assert answered.status_code in (403, 404), (path, answered.status_code)
        await provider.get("/webhooks/messenger", params={"hub.mode": "subscribe", "hub.verify_token": "guess",
                                                          "hub.challenge": "1"})
        form = await provider.get("/login")
        email = await make_user(sessions, Role.agent)
        await provider.post("/login", data={"email": email, "password": PASSWORD_TYPED,
                                            "csrf_token": csrf_of(form.text)})

    # A customer on every sending channel; a reply to each goes to a provider that cannot be reached.
    parties = {Channel.whatsapp: Party("whatsapp:+905320000001", AddressKind.phone, True, "Ayşe"),
               Channel.messenger: Party("7100000000000001", AddressKind.handle, True, "Ayşe"),
               Channel.telegram: Party("600000001", AddressKind.handle, True, "Ayşe"),
               Channel.email: Party("ayse@example.net", AddressKind.email, True, "Ayşe")}
    for n, (channel, party) in enumerate(parties.items()):
        async with transaction(sessions) as session:
            customer = (await ingest(session, InboundMessage(channel, f"in-{n}", party, text="merhaba",
                                                             provider_at=utcnow() - timedelta(minutes=1)),
                                     config=ingest_config)).customer_id or 0
            await queue_reply(session, customer_id=customer, channel=channel, text=f"cevap {n}")

    async def all_failed() -> bool:
        async with sessions() as session:
            statuses = (await session.execute(select(Message.delivery_status)
                                              .where(Message.direction == "outbound"))).scalars().all()
        return len(statuses) == 4 and all(status == "failed" for status in statuses)

    await until(all_failed, within=60)
    checked = await _run_async(["channels", "check"], env={**_env(tmp_path / "cli", None), **SETTINGS}, cwd=tmp_path)
    assert checked.returncode == 1  # every channel refused: the check said so, in words

    printed = capfd.readouterr()
    everything = "\n".join([caplog.text, printed.out, printed.err, checked.stdout, checked.stderr])
    assert "webhook refused" in caplog.text  # the forgeries were logged, so the search means something
    leaked = [name for name, value in {**SECRETS, "the typed password": PASSWORD_TYPED}.items()
              if value in everything or value.split(":")[-1] in everything]
    assert leaked == []
