"""The sidebar's profile over real HTTP: preferences with their source, consent with its proof, and
proactive messages, refused without consent and delivered with it to the loopback Twilio fake."""

import re
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select
from sqlmodel import col

from inbox import templates
from inbox.agents.models import Role
from inbox.audit import AuditEvent
from inbox.config import CoreSettings
from inbox.db import transaction
from inbox.messages.models import Message
from inbox.preferences import service as preferences
from inbox.preferences.models import Consent, Preference
from inbox.threads import service as threads
from tests.conftest import TEST_REDIS_URL
from tests.fakes.twilio_api import TwilioFake, running
from tests.ui.steps import customer_writes, message_written
from tests.waiting import until
from tests.web.test_webhooks import TWILIO_ENV
from tests.web.users import signed_in
from web.app import create_app

PHONE = "+905321234567"
SAID = "Ayakkabı numaram 39, kampanyalarınızı WhatsApp'tan alabilirim"
RESTOCK = "Sepetinizde bıraktığınız ayakkabılar Kadıköy mağazamızda stokta."
SID = "HX" + "0123456789abcdef" * 2


@pytest.fixture
async def twilio() -> AsyncIterator[TwilioFake]:
    async with running() as fake:
        yield fake


@pytest.fixture
def web_app(db_url: str, tmp_path: Path, twilio: TwilioFake, monkeypatch: pytest.MonkeyPatch) -> FastAPI:
    # WhatsApp sends go to the fake: the delivery worker's real adapter, across loopback.
    for name, value in {**TWILIO_ENV, "TWILIO_API_BASE_URL": twilio.base_url}.items():
        monkeypatch.setenv(name, value)
    return create_app(CoreSettings(data_dir=tmp_path / "data", database_url=db_url, redis_url=TEST_REDIS_URL))


@pytest.fixture
async def agent(server: str, sessions) -> AsyncIterator[httpx.AsyncClient]:
    client = await signed_in(server, sessions, Role.agent, name="Ayşe Demir", headers={"HX-Request": "true"})
    yield client
    await client.aclose()


async def _sule(sessions, ingest_config, *, ago: timedelta = timedelta(minutes=5)) -> tuple[int, int]:
    """Şule wrote SAID on WhatsApp `ago`; her thread's id and the message's."""
    customer_id = await customer_writes(sessions, ingest_config, "SM1", PHONE, "Şule Çelik", SAID, ago=ago)
    async with sessions() as reader:
        thread_id = (await threads.for_customer(reader, customer_id)).id or 0
    message_id, _ = await message_written(sessions, SAID)
    return thread_id, message_id


async def _stored(sessions) -> list[Preference]:
    async with sessions() as reader:
        return list((await reader.execute(select(Preference).order_by(col(Preference.key)))).scalars())


async def _outbound(sessions) -> list[Message]:
    async with sessions() as reader:
        return list((await reader.execute(select(Message).where(col(Message.direction) == "outbound"))).scalars())


def _sidebar_text(html: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


class TestPreferences:
    async def test_an_agent_sets_changes_and_removes_one_and_the_sidebar_says_who_and_when(
            self, agent, sessions, ingest_config) -> None:
        thread_id, _ = await _sule(sessions, ingest_config)
        answer = await agent.post(f"/inbox/threads/{thread_id}/preferences?view=open",
                                  data={"key": "Favourite store", "value": "Kadıköy"})
        assert answer.status_code == 200
        shown = _sidebar_text(answer.text)
        assert "Favourite store Kadıköy" in shown and "set by Ayşe Demir" in shown
        await agent.post(f"/inbox/threads/{thread_id}/preferences", data={"key": "favourite_store", "value": "Moda"})
        [store] = await _stored(sessions)
        assert (store.key, store.value, store.source, store.set_by_user_id) == ("favourite_store", "Moda", "agent", 1)

        removed = await agent.post(f"/inbox/threads/{thread_id}/preferences/favourite_store/remove")
        assert removed.status_code == 200 and "No preferences recorded." in removed.text
        assert await _stored(sessions) == []
        async with sessions() as reader:
            actions = [a.action for a in (await reader.execute(select(AuditEvent))).scalars()]
        assert actions.count("preference.set") == 2 and actions.count("preference.removed") == 1
        gone = await agent.post(f"/inbox/threads/{thread_id}/preferences/favourite_store/remove")
        assert gone.status_code == 404

    async def test_saved_from_a_message_it_is_stated_in_that_message_on_its_channel(
            self, agent, sessions, ingest_config) -> None:
        thread_id, message_id = await _sule(sessions, ingest_config)
        form = await agent.get(f"/inbox/threads/{thread_id}/preferences/form", params={"message_id": message_id})
        assert form.status_code == 200 and "Ayakkabı numaram 39" in form.text
        assert f'name="message_id" value="{message_id}"' in form.text
        answer = await agent.post(f"/inbox/threads/{thread_id}/preferences",
                                  data={"key": "shoe_size", "value": "39", "message_id": message_id})
        shown = _sidebar_text(answer.text)
        assert "Shoe size 39" in shown and "stated in message “Ayakkabı numaram 39" in shown and "WhatsApp" in shown
        assert f"message={message_id}" in answer.text
        [size] = await _stored(sessions)
        assert (size.source, size.source_channel, size.source_message_id) == ("stated", "whatsapp", message_id)

    @pytest.mark.parametrize(("data", "reason"), [
        ({"key": "shoe size!", "value": "39"}, "Key: use up to 40 letters a-z and _"),
        ({"key": "size", "value": "x" * 1001}, "Value: longer than 1000 characters"),
        ({"key": "size", "value": "M", "message_id": "999"}, "Message id: pick a message this customer wrote")])
    async def test_a_bad_one_is_refused_beside_the_form_keeping_what_was_typed(
            self, agent, sessions, ingest_config, data, reason) -> None:
        thread_id, _ = await _sule(sessions, ingest_config)
        answer = await agent.post(f"/inbox/threads/{thread_id}/preferences", data=data)
        assert answer.status_code == 422
        assert answer.headers["HX-Retarget"] == "#sidebar"
        assert reason in answer.text and f'value="{data["key"]}"' in answer.text
        assert await _stored(sessions) == []

    async def test_store_staff_anonymous_callers_and_a_missing_csrf_token_are_refused(
            self, server, agent, sessions, ingest_config) -> None:
        thread_id, _ = await _sule(sessions, ingest_config)
        url = f"{server}/inbox/threads/{thread_id}/preferences"
        store = await signed_in(server, sessions, Role.store, email="kasa@shop.example")
        async with httpx.AsyncClient() as anonymous:
            assert (await anonymous.post(url, data={"key": "size", "value": "M"})).status_code == 401
        assert (await store.post(url, data={"key": "size", "value": "M"})).status_code == 403
        await store.aclose()
        del agent.headers["X-CSRF-Token"]
        assert (await agent.post(url, data={"key": "size", "value": "M"})).status_code == 403
        assert await _stored(sessions) == []


class TestConsent:
    async def test_a_grant_with_its_proof_message_then_a_withdrawal_the_latest_shows(
            self, agent, sessions, ingest_config) -> None:
        thread_id, message_id = await _sule(sessions, ingest_config)
        granted = await agent.post(f"/inbox/threads/{thread_id}/consents",
                                   data={"consent_channel": "whatsapp", "granted": "yes",
                                         "proof_message_id": message_id})
        assert granted.status_code == 200
        assert "marketing: granted in message “Ayakkabı numaram 39" in _sidebar_text(granted.text)
        withdrawn = await agent.post(f"/inbox/threads/{thread_id}/consents",
                                     data={"consent_channel": "whatsapp", "granted": "no", "proof_message_id": ""})
        assert "marketing: withdrawn agent" in _sidebar_text(withdrawn.text)
        refused = await agent.post(f"/inbox/threads/{thread_id}/consents",
                                   data={"consent_channel": "email", "granted": "yes"})
        assert refused.status_code == 422 and "the customer has no email address" in refused.text
        async with sessions() as reader:
            history = list((await reader.execute(select(Consent).order_by(col(Consent.id)))).scalars())
        assert [(c.granted, c.proof_message_id) for c in history] == [(True, message_id), (False, None)]


async def _grant(sessions, thread_id: int) -> None:
    async with transaction(sessions) as session:
        thread = await threads.get(session, thread_id)
        await preferences.record_agent_consent(session, customer_id=thread.customer_id, channel="whatsapp",
                                               granted=True, actor="user:1")


class TestProactive:
    async def test_without_consent_the_sidebar_says_which_consent_is_missing_and_nothing_is_sent(
            self, agent, sessions, ingest_config, twilio) -> None:
        thread_id, _ = await _sule(sessions, ingest_config)
        answer = await agent.post(f"/inbox/threads/{thread_id}/proactive?view=open",
                                  data={"on_channel": "whatsapp", "body": RESTOCK})
        assert answer.status_code == 409 and answer.headers["HX-Retarget"] == "#sidebar"
        assert "No marketing consent on WhatsApp: the customer has not agreed to marketing messages there" in \
            answer.text
        assert RESTOCK in answer.text  # kept in the form
        turkish = await agent.post(f"/inbox/threads/{thread_id}/proactive", headers={"Accept-Language": "tr"},
                                   data={"on_channel": "whatsapp", "body": RESTOCK})
        assert "WhatsApp için pazarlama izni yok" in turkish.text
        assert await _outbound(sessions) == [] and twilio.requests == []

    async def test_with_consent_it_reaches_twilio_and_shows_in_the_thread_marked_proactive(
            self, agent, sessions, ingest_config, twilio) -> None:
        thread_id, _ = await _sule(sessions, ingest_config)
        await _grant(sessions, thread_id)
        answer = await agent.post(f"/inbox/threads/{thread_id}/proactive?view=open",
                                  data={"on_channel": "whatsapp", "body": RESTOCK})
        assert answer.status_code == 200
        assert re.search(r'class="tag-proactive"[^>]*>Proactive</span>', answer.text) and RESTOCK in answer.text
        await twilio.wait_for_requests(1)
        assert twilio.requests[0].get("Body") == RESTOCK and twilio.requests[0].get("To") == f"whatsapp:{PHONE}"

    async def test_outside_the_window_the_form_offers_templates_and_a_template_goes_out(
            self, agent, sessions, ingest_config, twilio) -> None:
        thread_id, _ = await _sule(sessions, ingest_config, ago=timedelta(days=2))
        await _grant(sessions, thread_id)
        async with transaction(sessions) as session:
            template = await templates.save(session, name="stok_haberi", content_sid=SID, language="tr",
                                            body="Merhaba {{1}}, ürününüz yeniden stokta.")
        refused = await agent.post(f"/inbox/threads/{thread_id}/proactive", data={"on_channel": "whatsapp",
                                                                                   "body": RESTOCK})
        assert refused.status_code == 409 and "WhatsApp messaging window is closed" in refused.text
        form = await agent.get(f"/inbox/threads/{thread_id}/proactive/form",
                               params={"on_channel": "whatsapp", "template_id": template.id})
        assert "window is closed: only an approved template can go out" in form.text
        assert 'name="var_1" value="Şule"' in form.text
        sent = await agent.post(f"/inbox/threads/{thread_id}/proactive",
                                data={"on_channel": "whatsapp", "template_id": template.id, "var_1": "Şule"})
        assert sent.status_code == 200 and "Merhaba Şule, ürününüz yeniden stokta." in sent.text
        await twilio.wait_for_requests(1)
        assert twilio.requests[0].get("ContentSid") == SID


class TestApi:
    async def test_proactive_is_409_naming_the_missing_consent_then_201_and_delivered_with_it(
            self, api, sessions, ingest_config, twilio) -> None:
        thread_id, _ = await _sule(sessions, ingest_config)
        async with sessions() as reader:
            customer_id = (await threads.get(reader, thread_id)).customer_id
        url = f"/api/v1/customers/{customer_id}/messages"
        refused = await api.post(url, json={"channel": "whatsapp", "text": RESTOCK, "kind": "proactive"})
        assert refused.status_code == 409
        assert refused.json()["detail"].startswith("no marketing consent on WhatsApp")
        await _grant(sessions, thread_id)
        sent = await api.post(url, json={"channel": "whatsapp", "text": RESTOCK, "kind": "proactive"})
        assert sent.status_code == 201 and sent.json()["proactive"] is True
        await twilio.wait_for_requests(1)

        async def delivered() -> bool:
            async with sessions() as reader:
                message = await reader.get(Message, sent.json()["id"])
            return message is not None and message.delivery_status == "sent"

        await until(delivered)
        listed = (await api.get(url)).json()["items"]
        assert [(m["text"], m["proactive"]) for m in listed if m["direction"] != "event"] == [
            (SAID, False), (RESTOCK, True)]

    async def test_the_contract_names_the_proactive_kind(self, api) -> None:
        schema = (await api.get("/openapi.json")).json()
        assert "proactive" in schema["components"]["schemas"]["MessageIn"]["properties"]["kind"]["enum"]
        assert "409" in schema["paths"]["/api/v1/customers/{customer_id}/messages"]["post"]["responses"]
