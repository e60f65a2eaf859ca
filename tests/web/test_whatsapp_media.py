"""A reply's file on WhatsApp: Twilio downloads it from a signed, expiring link to this server."""

import socket
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from fastapi import FastAPI

from inbox.agents.models import Role
from inbox.channels import AddressKind, Channel
from inbox.config import CoreSettings
from inbox.db import transaction, utcnow
from inbox.events import InboundMessage, Party
from inbox.ingest import ingest
from inbox.threads import service as threads
from tests.conftest import TEST_REDIS_URL
from tests.fakes.loopback import serve
from tests.fakes.twilio_api import ACCOUNT_SID, AUTH_TOKEN, TwilioFake, running
from tests.waiting import until
from tests.web.users import signed_in
from web.app import create_app

PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000"
                    "1f15c4890000000d4944415478da63f8cfc0f01f0005000201a5e1d8b40000000049454e44ae426082")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
async def twilio() -> AsyncIterator[TwilioFake]:
    async with running() as fake:
        yield fake


@pytest.fixture
def port() -> int:
    return _free_port()


@pytest.fixture
def web_app(db_url: str, tmp_path: Path, twilio: TwilioFake, port: int, monkeypatch: pytest.MonkeyPatch) -> FastAPI:
    # Twilio must reach this server: its public address is the loopback port it will listen on.
    for name, value in {"TWILIO_ACCOUNT_SID": ACCOUNT_SID, "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
                        "TWILIO_WHATSAPP_FROM": "whatsapp:+14155550100", "TWILIO_API_BASE_URL": twilio.base_url,
                        "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}"}.items():
        monkeypatch.setenv(name, value)
    return create_app(CoreSettings(data_dir=tmp_path / "data", database_url=db_url, redis_url=TEST_REDIS_URL))


@pytest.fixture
async def server(web_app: FastAPI, port: int) -> AsyncIterator[str]:
    async with serve(web_app, port=port, lifespan=True) as url:
        yield url


async def _thread_of_a_customer_who_wrote(web_app: FastAPI, ingest_config) -> int:
    sender = Party("whatsapp:+905321234567", AddressKind.phone, True, "Şule Çelik")
    async with transaction(web_app.state.sessions) as session:
        result = await ingest(session, InboundMessage(Channel.whatsapp, "SM1", sender, text="Faturamı atar mısınız?",
                                                      provider_at=utcnow() - timedelta(minutes=3)),
                              config=ingest_config)
        return (await threads.for_customer(session, result.customer_id or 0)).id or 0


async def test_twilio_downloads_the_file_from_a_signed_link_and_sends_it(web_app, server, sessions, twilio,
                                                                        ingest_config) -> None:
    thread_id = await _thread_of_a_customer_who_wrote(web_app, ingest_config)
    agent = await signed_in(server, sessions, Role.agent, name="Ayşe Demir")
    sent = await agent.post(f"/inbox/threads/{thread_id}/messages", headers={"HX-Request": "true"},
                            data={"kind": "reply", "channel": "whatsapp", "text": "Faturanız ekte"},
                            files=[("files", ("fatura.png", PNG, "image/png"))])
    await agent.aclose()
    assert sent.status_code == 200

    async def downloaded() -> bool:
        return bool(twilio.downloads)

    await until(downloaded, within=10)
    request = twilio.requests[-1]
    assert request.get("Body") == "Faturanız ekte"
    status, headers, data = twilio.downloads[0]
    # Twilio compares the Content-Type with the file, and WhatsApp shows a document's name from here.
    assert (status, data, headers["content-type"]) == (200, PNG, "image/png")
    assert 'filename="fatura.png"' in headers["content-disposition"]

    link = request.get("MediaUrl") or ""
    page, query = link.split("?")[0], parse_qs(urlsplit(link).query)
    signature, expires = query["signature"][0], query["expires"][0]
    async with httpx.AsyncClient() as anyone:
        tampered = await anyone.get(page, params={"expires": expires,
                                                  "signature": ("1" if signature[0] == "0" else "0") + signature[1:]})
        unsigned = await anyone.get(page)
        attachment_id = int(urlsplit(link).path.split("/")[2])
        expired = await anyone.get(web_app.state.file_links.url_for(attachment_id, "fatura.png",
                                                                    now=utcnow() - timedelta(hours=2)))
    assert (tampered.status_code, unsigned.status_code, expired.status_code) == (403, 403, 403)
