"""The API and the 24-hour window: a free-form reply after it is refused at once; a template goes out."""

from datetime import timedelta

from inbox import templates
from inbox.channels import Channel
from inbox.db import transaction, utcnow
from inbox.events import InboundMessage
from tests.web.test_api import AYSE, _count_messages, _customer

SID = "HX" + "0123456789abcdef" * 2


async def _late_customer(sessions, ingest_config) -> int:
    """Ayşe wrote on WhatsApp two days ago: the window closed a day ago."""
    return await _customer(sessions, ingest_config, InboundMessage(
        Channel.whatsapp, "SM1", AYSE, text="Kargom nerede?", provider_at=utcnow() - timedelta(days=2)))


async def _template(sessions) -> int:
    async with transaction(sessions) as session:
        made = await templates.save(session, name="siparis_kargoda", content_sid=SID, language="tr",
                                    body="Merhaba {{1}}, {{2}} numaralı siparişiniz kargoya verildi.")
    return made.id or 0


class TestClosedWindow:
    async def test_a_free_form_reply_is_409_saying_why_and_what_to_do(self, api, sessions, ingest_config) -> None:
        customer_id = await _late_customer(sessions, ingest_config)
        response = await api.post(f"/api/v1/customers/{customer_id}/messages",
                                  json={"channel": "whatsapp", "text": "Kargonuz yolda"})
        assert response.status_code == 409
        detail = response.json()["detail"]
        assert "WhatsApp messaging window is closed since" in detail and "send an approved template" in detail
        assert await _count_messages(sessions, direction="outbound") == 0

    async def test_a_note_is_still_written(self, api, sessions, ingest_config) -> None:
        customer_id = await _late_customer(sessions, ingest_config)
        response = await api.post(f"/api/v1/customers/{customer_id}/messages",
                                  json={"channel": "whatsapp", "text": "Şablon gönderilecek", "kind": "note"})
        assert response.status_code == 201


class TestTemplate:
    async def test_a_template_goes_out_with_its_text_filled(self, api, sessions, ingest_config) -> None:
        customer_id, template_id = await _late_customer(sessions, ingest_config), await _template(sessions)
        response = await api.post(f"/api/v1/customers/{customer_id}/messages", json={
            "channel": "whatsapp", "template_id": template_id, "variables": {"1": "Ayşe", "2": "1002"}})
        assert response.status_code == 201
        body = response.json()
        assert body["text"] == "Merhaba Ayşe, 1002 numaralı siparişiniz kargoya verildi."
        assert (body["direction"], body["delivery_status"]) == ("outbound", "queued")

    async def test_an_empty_variable_is_422_naming_it(self, api, sessions, ingest_config) -> None:
        customer_id, template_id = await _late_customer(sessions, ingest_config), await _template(sessions)
        response = await api.post(f"/api/v1/customers/{customer_id}/messages", json={
            "channel": "whatsapp", "template_id": template_id, "variables": {"1": "Ayşe", "2": " "}})
        assert response.status_code == 422
        assert response.json()["detail"][0]["loc"] == ["body", "variables"]
        assert "{{2}} is empty" in response.json()["detail"][0]["msg"]
        assert await _count_messages(sessions, direction="outbound") == 0

    async def test_text_beside_a_template_is_422(self, api, sessions, ingest_config) -> None:
        customer_id, template_id = await _late_customer(sessions, ingest_config), await _template(sessions)
        response = await api.post(f"/api/v1/customers/{customer_id}/messages", json={
            "channel": "whatsapp", "template_id": template_id, "text": "ve bir de metin"})
        assert response.status_code == 422 and "without text" in response.text

    async def test_an_unknown_template_is_404(self, api, sessions, ingest_config) -> None:
        customer_id = await _late_customer(sessions, ingest_config)
        response = await api.post(f"/api/v1/customers/{customer_id}/messages",
                                  json={"channel": "whatsapp", "template_id": 999, "variables": {}})
        assert response.status_code == 404
