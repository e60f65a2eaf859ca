"""`onethread telegram …` and `onethread channels check` against the fake Bot API."""

import asyncio
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from inbox.channels import AddressKind, Channel
from inbox.customers import links
from inbox.db import transaction
from inbox.events import InboundMessage, Party
from inbox.ingest import ingest
from tests.fakes.telegram_api import TOKEN, TelegramFake, running
from web.cli import app

SECRET = "tg-webhook-secret_ABC123"
LINK_SECRET = "cli-link-secret"
# Everything a developer's shell might set that would change what the commands do.
CLEARED = ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "TWILIO_WHATSAPP_FROM", "TELEGRAM_BOT_USERNAME")


def env(fake: TelegramFake, **overrides: str | None) -> dict[str, str | None]:
    values: dict[str, str | None] = {name: None for name in CLEARED}
    values.update({"TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_WEBHOOK_SECRET": SECRET,
                   "TELEGRAM_API_BASE_URL": fake.base_url, "PUBLIC_BASE_URL": "https://inbox.example.com",
                   "LINK_SECRET": LINK_SECRET, "COLUMNS": "200"})
    values.update(overrides)
    return values


async def onethread(*args: str, env: dict[str, str | None]) -> Result:
    # In a thread: the command runs an event loop of its own.
    return await asyncio.to_thread(CliRunner().invoke, app, list(args), env=env)


@pytest.fixture
async def fake() -> object:
    async with running() as served:
        yield served


class TestSetWebhook:
    async def test_registers_the_public_url_with_the_secret_and_our_update_kinds(self, fake) -> None:
        done = await onethread("telegram", "set-webhook", env=env(fake))
        assert done.exit_code == 0, done.output
        [call] = fake.called("setWebhook")
        assert call.params["url"] == "https://inbox.example.com/webhooks/telegram"
        assert call.params["secret_token"] == SECRET
        assert call.params["allowed_updates"] == '["message", "edited_message", "callback_query"]'
        assert "Telegram delivers to https://inbox.example.com/webhooks/telegram" in done.output
        assert "message, edited_message, callback_query" in done.output

    async def test_without_a_public_url_it_says_what_to_set_and_calls_nothing(self, fake) -> None:
        done = await onethread("telegram", "set-webhook", env=env(fake, PUBLIC_BASE_URL=None))
        assert done.exit_code == 1 and "PUBLIC_BASE_URL is not set" in done.output
        assert fake.calls == []

    async def test_unconfigured_it_names_the_settings(self, fake) -> None:
        done = await onethread("telegram", "set-webhook", env=env(fake, TELEGRAM_BOT_TOKEN=None))
        assert done.exit_code == 1 and "TELEGRAM_BOT_TOKEN and TELEGRAM_WEBHOOK_SECRET" in done.output

    async def test_a_token_telegram_refuses_is_said_without_showing_it(self, fake) -> None:
        done = await onethread("telegram", "set-webhook", env=env(fake, TELEGRAM_BOT_TOKEN="1:revoked-token"))
        assert done.exit_code == 1 and "Telegram refused TELEGRAM_BOT_TOKEN" in done.output
        assert "revoked-token" not in done.output


class TestLink:
    async def test_prints_a_t_me_link_signed_for_the_customer(self, fake, sessions, ingest_config, db_url,
                                                              tmp_path: Path) -> None:
        async with transaction(sessions) as session:
            known = await ingest(session, InboundMessage(
                Channel.whatsapp, "SM1", Party("whatsapp:+905321234567", AddressKind.phone, True, "Ayşe Yılmaz"),
                text="Merhaba"), config=ingest_config)
        done = await onethread("telegram", "link", str(known.customer_id),
                               env=env(fake, DATABASE_URL=db_url, DATA_DIR=str(tmp_path / "data")))
        assert done.exit_code == 0, done.output
        assert "Ayşe Yılmaz" in done.output
        link = done.output.strip().splitlines()[-1]
        prefix = "https://t.me/acme_destek_bot?start="
        assert link.startswith(prefix)
        assert links.verify(link.removeprefix(prefix), secret=LINK_SECRET) == known.customer_id

    async def test_an_unknown_customer_is_refused(self, fake, db_url, tmp_path: Path) -> None:
        done = await onethread("telegram", "link", "424242",
                               env=env(fake, DATABASE_URL=db_url, DATA_DIR=str(tmp_path / "data")))
        assert done.exit_code == 1 and "424242" in done.output and "https://t.me" not in done.output

    async def test_without_a_link_secret_it_says_so(self, fake, db_url, tmp_path: Path) -> None:
        done = await onethread("telegram", "link", "1", env=env(fake, LINK_SECRET=None, DATABASE_URL=db_url,
                                                              DATA_DIR=str(tmp_path / "data")))
        assert done.exit_code == 1 and "LINK_SECRET is not set" in done.output


class TestChannelsCheck:
    async def test_names_the_bot_the_token_opens(self, fake) -> None:
        done = await onethread("channels", "check", env=env(fake))
        assert done.exit_code == 0, done.output
        assert "telegram: Bot @acme_destek_bot (7012345678)" in done.output
        assert "whatsapp: not configured" in done.output
