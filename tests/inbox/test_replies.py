from datetime import timedelta

import pytest
from sqlalchemy import func, select

from inbox import delivery, templates
from inbox.channels import AddressKind, Channel
from inbox.customers import service as customers
from inbox.db import transaction, utcnow
from inbox.errors import Invalid
from inbox.events import DeliveryStatus, InboundMessage, Party
from inbox.ingest import ingest
from inbox.messages import service as messages
from inbox.messages.models import Message
from inbox.replies import queue_reply, queue_template
from inbox.windows import WindowClosed

SID = "HX" + "0123456789abcdef" * 2
SHIPPED = "Merhaba {{1}}, {{2}} numaralı siparişiniz kargoya verildi."


async def _wrote(sessions, ingest_config, *, ago: timedelta, channel: Channel = Channel.whatsapp) -> int:
    """A customer whose last message on `channel` came `ago`; returns their id."""
    address = "whatsapp:+905321234567" if channel == Channel.whatsapp else "psid-7781"
    kind = AddressKind.phone if channel == Channel.whatsapp else AddressKind.handle
    async with transaction(sessions) as session:
        result = await ingest(session, InboundMessage(channel, "M1", Party(address, kind, True, "Ayşe Yılmaz"),
                                                      text="Kargom nerede?", provider_at=utcnow() - ago),
                              config=ingest_config)
    return result.customer_id or 0


async def _outbound(session) -> int:
    return int((await session.execute(
        select(func.count()).select_from(Message).where(Message.direction == "outbound"))).scalar_one())


class TestQueueReplyWindow:
    async def test_inside_whatsapps_24_hours_the_reply_is_queued(self, sessions, session, ingest_config) -> None:
        customer_id = await _wrote(sessions, ingest_config, ago=timedelta(hours=23))
        reply = await queue_reply(session, customer_id=customer_id, channel=Channel.whatsapp, text="Yolda")
        assert (reply.delivery_status, reply.extra) == (DeliveryStatus.queued, {})

    async def test_after_24_hours_it_is_refused_with_since_when_and_what_to_do(
            self, sessions, session, ingest_config) -> None:
        customer_id = await _wrote(sessions, ingest_config, ago=timedelta(hours=30))
        with pytest.raises(WindowClosed) as refused:
            await queue_reply(session, customer_id=customer_id, channel=Channel.whatsapp, text="Yolda")
        closed_at = (utcnow() - timedelta(hours=6)).strftime("%Y-%m-%d %H:")
        assert f"WhatsApp messaging window is closed since {closed_at}" in str(refused.value)
        assert "24 hours after the customer's last message" in str(refused.value)
        assert "send an approved template" in str(refused.value)
        assert await _outbound(session) == 0

    async def test_an_address_that_never_wrote_has_no_open_window(self, sessions, session, ingest_config) -> None:
        customer_id = await _wrote(sessions, ingest_config, ago=timedelta(minutes=5), channel=Channel.messenger)
        await customers.add_identity(session, customer_id=customer_id, channel=Channel.whatsapp,
                                     kind=AddressKind.phone, address="+905321234567", verified=True)
        with pytest.raises(WindowClosed, match="has not written on WhatsApp"):
            await queue_reply(session, customer_id=customer_id, channel=Channel.whatsapp, text="Merhaba")

    async def test_a_late_messenger_reply_carries_the_human_agent_tag(self, sessions, session, ingest_config) -> None:
        customer_id = await _wrote(sessions, ingest_config, ago=timedelta(days=3), channel=Channel.messenger)
        reply = await queue_reply(session, customer_id=customer_id, channel=Channel.messenger, text="Bakıyorum")
        assert reply.extra == {"tag": "HUMAN_AGENT"}

    async def test_past_messengers_7_days_it_is_refused_without_offering_templates(
            self, sessions, session, ingest_config) -> None:
        customer_id = await _wrote(sessions, ingest_config, ago=timedelta(days=8), channel=Channel.messenger)
        with pytest.raises(WindowClosed, match=r"7 days after .*: reply on another channel$"):
            await queue_reply(session, customer_id=customer_id, channel=Channel.messenger, text="Bakıyorum")

    async def test_the_window_is_read_at_the_clock_given(self, sessions, session, ingest_config) -> None:
        customer_id = await _wrote(sessions, ingest_config, ago=timedelta(hours=30))
        reply = await queue_reply(session, customer_id=customer_id, channel=Channel.whatsapp, text="Yolda",
                                  now=utcnow() - timedelta(hours=7))
        assert reply.delivery_status == DeliveryStatus.queued

    async def test_a_repeated_request_gets_what_it_created_even_after_the_window_closed(
            self, sessions, session, ingest_config) -> None:
        customer_id = await _wrote(sessions, ingest_config, ago=timedelta(hours=23))
        first = await queue_reply(session, customer_id=customer_id, channel=Channel.whatsapp, text="Yolda",
                                  idempotency_key="k1")
        again = await queue_reply(session, customer_id=customer_id, channel=Channel.whatsapp, text="Yolda",
                                  idempotency_key="k1", now=utcnow() + timedelta(hours=2))
        assert again.id == first.id and await _outbound(session) == 1


class TestQueueTemplate:
    async def test_goes_out_whatever_the_window_with_the_filled_text_and_the_content_sid(
            self, sessions, session, ingest_config) -> None:
        customer_id = await _wrote(sessions, ingest_config, ago=timedelta(days=5))
        template = await templates.save(session, name="siparis_kargoda", content_sid=SID, language="tr", body=SHIPPED)
        sent = await queue_template(session, customer_id=customer_id, template_id=template.id or 0,
                                    variables={"1": "Ayşe ", "2": "1002"}, author_name="Mehmet")
        assert sent.text == "Merhaba Ayşe, 1002 numaralı siparişiniz kargoya verildi."
        assert (sent.channel, sent.delivery_status) == ("whatsapp", DeliveryStatus.queued)
        assert sent.extra == {"template": {"name": "siparis_kargoda", "content_sid": SID,
                                           "variables": {"1": "Ayşe", "2": "1002"}}}

    async def test_a_missing_variable_writes_nothing(self, sessions, session, ingest_config) -> None:
        customer_id = await _wrote(sessions, ingest_config, ago=timedelta(days=5))
        template = await templates.save(session, name="siparis_kargoda", content_sid=SID, language="tr", body=SHIPPED)
        with pytest.raises(Invalid, match=r"\{\{2\}\}"):
            await queue_template(session, customer_id=customer_id, template_id=template.id or 0, variables={"1": "A"})
        assert await _outbound(session) == 0


class TestRetry:
    async def test_a_failed_reply_is_not_sent_again_into_a_closed_window_but_a_template_is(
            self, sessions, ingest_config) -> None:
        customer_id = await _wrote(sessions, ingest_config, ago=timedelta(hours=30))
        async with transaction(sessions) as session:
            template = await templates.save(session, name="kargo", content_sid=SID, language="tr", body=SHIPPED)
            free = await queue_reply(session, customer_id=customer_id, channel=Channel.whatsapp, text="Yolda",
                                     now=utcnow() - timedelta(hours=7))
            sent = await queue_template(session, customer_id=customer_id, template_id=template.id or 0,
                                        variables={"1": "Ayşe", "2": "1002"})
            for message in (free, sent):
                await messages.apply_delivery(session, message, status=DeliveryStatus.failed, error="63016")
        async with transaction(sessions) as session:
            with pytest.raises(WindowClosed):
                await delivery.retry(session, free.id or 0)
            again = await delivery.retry(session, sent.id or 0)
        assert again.delivery_status == DeliveryStatus.queued and "template" in again.extra
