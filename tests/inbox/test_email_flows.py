"""What the domain does with email's events: sanitized HTML, auto-replies that trigger nothing,
bounces that fail the reply they return, replies that answer the customer's last mail."""

from datetime import UTC, datetime

from sqlalchemy import select

from adapters.email import Adapter
from adapters.email.settings import EmailSettings
from inbox.channels import AddressKind, Channel
from inbox.db import transaction
from inbox.delivery import Policy, deliver_next
from inbox.events import (
    DeliveryStatus,
    DeliveryUpdate,
    Direction,
    InboundMessage,
    Party,
)
from inbox.ingest import ingest
from inbox.messages import service as messages
from inbox.messages.models import Message
from inbox.replies import queue_reply
from inbox.threads.models import Thread
from tests.fakes.smtp_sink import SmtpSink, running

POLICY = Policy(max_attempts=3, lease_seconds=30)

AYSE = Party("Ayse.Yilmaz@example.net", AddressKind.email, True, "Ayşe Yılmaz")
FIRST = "<000801d9a1b2$3c4d5e60$7f8a9bac$@example.net>"


def _relay(port: int) -> EmailSettings:
    return EmailSettings(support_addresses="destek@acme.example", smtp_host="127.0.0.1", smtp_port=port,
                         smtp_security="off")


def _mail(provider_id: str, text: str, **fields) -> InboundMessage:  # type: ignore[no-untyped-def]
    return InboundMessage(Channel.email, provider_id, AYSE, text=text, **fields)


async def _ingest(sessions, ingest_config, event):  # type: ignore[no-untyped-def]
    async with transaction(sessions) as session:
        return await ingest(session, event, config=ingest_config)


class TestInboundMail:
    async def test_html_is_stored_sanitized_whatever_the_adapter_handed_over(self, sessions, session,
                                                                              ingest_config) -> None:
        stored = await _ingest(sessions, ingest_config, _mail(
            FIRST, "İade kodu çalışmıyor", subject="İade",
            html='<p onload="x()">İade<script>alert(1)</script><img src="https://t.example/p.gif"></p>'))
        message = await messages.get(session, stored.message_id or 0)
        assert message.html == "<p>İade<img></p>" and message.subject == "İade"

    async def test_an_auto_reply_is_a_line_that_neither_reopens_nor_counts_as_unread(self, sessions, session,
                                                                                     ingest_config) -> None:
        first = await _ingest(sessions, ingest_config, _mail(FIRST, "Kargom nerede?"))
        async with transaction(sessions) as writing:
            thread = await writing.get(Thread, first.thread_id)
            assert thread is not None
            thread.status, thread.unread_count = "resolved", 0
        auto = await _ingest(sessions, ingest_config, _mail(
            "<vacation.1@example.net>", "İzindeyim", subject="Otomatik yanıt: Re: Kargo", direction=Direction.event,
            extra={"event": "email.auto_reply", "reason": "Auto-Submitted: auto-replied"}))
        assert auto.outcome == "stored"
        thread = await session.get(Thread, first.thread_id)
        assert thread is not None and (thread.status, thread.unread_count) == ("resolved", 0)
        assert thread.last_preview == "Kargom nerede?"
        line = await messages.get(session, auto.message_id or 0)
        assert (line.direction, line.author_type) == ("event", "system")


class TestRepliesByEmail:
    async def test_a_reply_answers_the_customers_last_mail_and_keeps_its_subject(self, sessions, session,
                                                                                  ingest_config) -> None:
        first = await _ingest(sessions, ingest_config, _mail(FIRST, "Kargom nerede?",
                                                             subject="YNT: Siparişim (#1002)"))
        reply = await queue_reply(session, customer_id=first.customer_id or 0, channel=Channel.email,
                                  text="Yolda", author_name="Deniz")
        assert (reply.subject, reply.reply_to_id) == ("Re: Siparişim (#1002)", first.message_id)

    async def test_the_mail_carries_in_reply_to_and_the_chain_the_customer_named(self, sessions, ingest_config
                                                                                  ) -> None:
        earlier = "<colleague-cc@example.net>"
        first = await _ingest(sessions, ingest_config, _mail(FIRST, "Kargom nerede?", subject="Sipariş",
                                                             provider_at=datetime(2026, 1, 15, 9, tzinfo=UTC)))
        async with running(SmtpSink()) as sink:
            relay = {Channel.email: Adapter(_relay(sink.port))}
            async with transaction(sessions) as session:
                await queue_reply(session, customer_id=first.customer_id or 0, channel=Channel.email,
                                  text="Bakıyorum")
            await deliver_next(sessions, relay, worker_id="w", policy=POLICY)
            [one] = await sink.wait_for(1)
            ours = one.message["Message-ID"]
            second = await _ingest(sessions, ingest_config, _mail(
                "<second@example.net>", "Teşekkürler", subject="Re: Sipariş", reply_to=(earlier, FIRST, ours)))
            async with transaction(sessions) as session:
                for text in ("Rica ederim", "Bir şey daha"):
                    await queue_reply(session, customer_id=second.customer_id or 0, channel=Channel.email, text=text)
            for _ in range(2):
                await deliver_next(sessions, relay, worker_id="w", policy=POLICY)
            _, two, three = await sink.wait_for(3)
        assert (one.message["In-Reply-To"], one.message["References"]) == (FIRST, FIRST)
        assert one.message["Subject"] == "Re: Sipariş"
        chain = f"{earlier} {FIRST} {ours} <second@example.net>"
        # The agent's second reply answers the same mail: its chain ends at the customer's, not at ours.
        for later in (two, three):
            assert (later.message["In-Reply-To"], later.message["References"]) == ("<second@example.net>", chain)

    async def test_a_bounce_fails_the_reply_it_returns_with_the_reason(self, sessions, session,
                                                                       ingest_config) -> None:
        first = await _ingest(sessions, ingest_config, _mail(FIRST, "Kargom nerede?"))
        async with transaction(sessions) as writing:
            reply = await queue_reply(writing, customer_id=first.customer_id or 0, channel=Channel.email,
                                      text="Yolda")
        async with running(SmtpSink()) as sink:
            await deliver_next(sessions, {Channel.email: Adapter(_relay(sink.port))}, worker_id="w", policy=POLICY)
            [sent] = await sink.wait_for(1)
        bounced = await _ingest(sessions, ingest_config, DeliveryUpdate(
            Channel.email, sent.message["Message-ID"], DeliveryStatus.failed,
            error="bounced by mx.example.net: 550 5.1.1 User unknown"))
        assert bounced.outcome == "updated"
        stored = (await session.execute(select(Message).where(Message.id == reply.id))).scalar_one()
        assert (stored.delivery_status, stored.error) == ("failed", "bounced by mx.example.net: 550 5.1.1 User unknown")
