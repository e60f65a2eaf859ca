from datetime import timedelta

import pytest
from sqlalchemy import func, select

from inbox import canned, templates
from inbox.channels import AddressKind, Channel
from inbox.db import transaction, utcnow
from inbox.events import DeliveryStatus, InboundMessage, Party
from inbox.ingest import ingest
from inbox.messages.models import Message
from inbox.preferences import service as preferences
from inbox.proactive import NoConsent, queue_proactive
from inbox.windows import WindowClosed

AGENT = "user:deniz"
SID = "HX" + "0123456789abcdef" * 2
RESTOCK = "Sepetinizde bıraktığınız ayakkabılar Kadıköy mağazamızda stokta."


async def _wrote(sessions, ingest_config, *, ago: timedelta) -> int:
    """Şule wrote on WhatsApp `ago` before now; her id."""
    async with transaction(sessions) as session:
        result = await ingest(session, InboundMessage(
            Channel.whatsapp, "SM1", Party("whatsapp:+905321234567", AddressKind.phone, True, "Şule Çelik"),
            text="Evet, kampanyalardan haberdar edin", provider_at=utcnow() - ago), config=ingest_config)
    return result.customer_id or 0


async def _consent(session, customer_id: int, *, granted: bool, channel: str = "whatsapp") -> None:
    await preferences.record_consent(session, customer_id=customer_id, channel=channel, granted=granted,
                                     source="stated", actor=AGENT)


async def _outbound(session) -> int:
    return int((await session.execute(
        select(func.count()).select_from(Message).where(Message.direction == "outbound"))).scalar_one())


class TestQueueProactive:
    async def test_without_consent_it_is_refused_naming_the_missing_consent(self, sessions, session,
                                                                            ingest_config) -> None:
        customer_id = await _wrote(sessions, ingest_config, ago=timedelta(hours=1))
        with pytest.raises(NoConsent) as refused:
            await queue_proactive(session, customer_id=customer_id, channel=Channel.whatsapp, text=RESTOCK)
        assert str(refused.value).startswith("no marketing consent on WhatsApp: the customer has not agreed")
        assert await _outbound(session) == 0

    async def test_consent_on_another_channel_or_withdrawn_since_does_not_count(self, sessions, session,
                                                                               ingest_config) -> None:
        customer_id = await _wrote(sessions, ingest_config, ago=timedelta(hours=1))
        await _consent(session, customer_id, granted=True, channel="email")
        with pytest.raises(NoConsent):
            await queue_proactive(session, customer_id=customer_id, channel=Channel.whatsapp, text=RESTOCK)
        await _consent(session, customer_id, granted=True)
        await _consent(session, customer_id, granted=False)
        with pytest.raises(NoConsent, match=f"withdrew it on {utcnow():%Y-%m-%d}"):
            await queue_proactive(session, customer_id=customer_id, channel=Channel.whatsapp, text=RESTOCK)
        assert await _outbound(session) == 0

    async def test_with_consent_inside_the_window_the_text_is_queued_marked_proactive(
            self, sessions, session, ingest_config) -> None:
        customer_id = await _wrote(sessions, ingest_config, ago=timedelta(hours=1))
        await _consent(session, customer_id, granted=True)
        sent = await queue_proactive(session, customer_id=customer_id, channel=Channel.whatsapp, text=RESTOCK,
                                     author_name="Deniz")
        assert (sent.direction, sent.channel, sent.text, sent.delivery_status, sent.extra) == (
            "outbound", "whatsapp", RESTOCK, DeliveryStatus.queued, {"proactive": True})

    async def test_outside_whatsapps_window_only_a_template_goes_out(self, sessions, session,
                                                                    ingest_config) -> None:
        customer_id = await _wrote(sessions, ingest_config, ago=timedelta(days=3))
        await _consent(session, customer_id, granted=True)
        with pytest.raises(WindowClosed, match="send an approved template"):
            await queue_proactive(session, customer_id=customer_id, channel=Channel.whatsapp, text=RESTOCK)
        template = await templates.save(session, name="stok_haberi", content_sid=SID, language="tr",
                                        body="Merhaba {{1}}, {{2}} yeniden stokta.")
        sent = await queue_proactive(session, customer_id=customer_id, channel=Channel.whatsapp,
                                     template_id=template.id, variables={"1": "Şule", "2": "Ayakkabılarınız"})
        assert sent.text == "Merhaba Şule, Ayakkabılarınız yeniden stokta."
        assert sent.extra["proactive"] is True and sent.extra["template"]["content_sid"] == SID

    async def test_a_template_needs_the_consent_too(self, sessions, session, ingest_config) -> None:
        customer_id = await _wrote(sessions, ingest_config, ago=timedelta(days=3))
        template = await templates.save(session, name="stok_haberi", content_sid=SID, language="tr",
                                        body="Merhaba {{1}}")
        with pytest.raises(NoConsent):
            await queue_proactive(session, customer_id=customer_id, channel=Channel.whatsapp,
                                  template_id=template.id, variables={"1": "Şule"})
        assert await _outbound(session) == 0


class TestPreferenceVariables:
    async def test_a_canned_response_fills_what_the_customer_shared_and_shows_the_rest(
            self, sessions, session, ingest_config) -> None:
        customer_id = await _wrote(sessions, ingest_config, ago=timedelta(hours=1))
        async with transaction(sessions) as tx:
            await preferences.set_preference(tx, customer_id=customer_id, key="shoe_size", value="39",
                                             source="stated", actor=AGENT)
            saved = await canned.save(tx, shortcut="stok", title="",
                                      body="{{customer.first_name}}, {{preference.shoe_size}} numara stokta. "
                                           "{{preference.favourite_store}} mağazasında.")
        filled = canned.fill(saved.body, await canned.values_for(session, customer_id))
        assert filled == "Şule, 39 numara stokta. {{preference.favourite_store}} mağazasında."

    async def test_a_malformed_variable_is_still_refused(self, session) -> None:
        with pytest.raises(Exception, match="unknown variable"):
            await canned.save(session, shortcut="x", title="", body="{{customer.shoe_size}}")
