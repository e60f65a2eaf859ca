"""Messaging windows at their boundaries, and as the composer gets them for a customer."""

from datetime import UTC, datetime, timedelta

from inbox.channels import AddressKind, Channel
from inbox.customers import service as customers
from inbox.db import transaction, utcnow
from inbox.events import InboundMessage, Party
from inbox.ingest import ingest
from inbox.threads import conversation
from inbox.threads import service as threads
from inbox.windows import HUMAN_AGENT, alternative, window

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
SECOND = timedelta(seconds=1)


class TestWhatsApp:
    def test_open_until_24_hours_after_the_last_inbound_and_closed_from_then(self) -> None:
        last = NOW - timedelta(hours=24) + SECOND
        assert window(Channel.whatsapp, last, now=NOW).open
        assert window(Channel.whatsapp, last, now=NOW).closes_at == NOW + SECOND
        closed = window(Channel.whatsapp, NOW - timedelta(hours=24), now=NOW)
        assert (closed.open, closed.tag) == (False, None)

    def test_a_customer_who_never_wrote_there_has_it_closed(self) -> None:
        assert not window(Channel.whatsapp, None, now=NOW).open


class TestMessenger:
    def test_free_for_24_hours_then_human_agent_up_to_7_days_then_closed(self) -> None:
        free = window(Channel.messenger, NOW - timedelta(hours=24) + SECOND, now=NOW)
        assert (free.open, free.tag) == (True, None)
        tagged = window(Channel.messenger, NOW - timedelta(hours=24), now=NOW)
        assert (tagged.open, tagged.tag, tagged.closes_at) == (True, HUMAN_AGENT, NOW + timedelta(days=6))
        last_tagged = window(Channel.messenger, NOW - timedelta(days=7) + SECOND, now=NOW)
        assert (last_tagged.open, last_tagged.tag) == (True, HUMAN_AGENT)
        assert not window(Channel.messenger, NOW - timedelta(days=7), now=NOW).open


class TestWithoutWindow:
    def test_email_telegram_and_webchat_are_always_open(self) -> None:
        for channel in (Channel.email, Channel.telegram, Channel.webchat):
            found = window(channel, None, now=NOW)
            assert (found.open, found.closes_at, found.tag) == (True, None, None)


def test_the_alternative_prefers_an_open_window_then_a_channel_without_one() -> None:
    windows = {"whatsapp": window("whatsapp", NOW - timedelta(days=2), now=NOW),
               "email": window("email", None, now=NOW),
               "messenger": window("messenger", NOW - timedelta(hours=1), now=NOW)}
    assert alternative(windows, "whatsapp") == "messenger"
    del windows["messenger"]
    assert alternative(windows, "whatsapp") == "email"
    assert alternative({"whatsapp": windows["whatsapp"]}, "whatsapp") is None


async def test_the_conversation_carries_each_reply_channels_window(sessions, ingest_config) -> None:
    two_days_ago = utcnow() - timedelta(days=2)
    async with transaction(sessions) as session:
        result = await ingest(session, InboundMessage(
            Channel.whatsapp, "SMold", Party("whatsapp:+905321234567", AddressKind.phone, True, "Şule"),
            text="Merhaba", provider_at=two_days_ago), config=ingest_config)
        customer_id = result.customer_id or 0
        await customers.add_identity(session, customer_id=customer_id, channel=Channel.email,
                                     kind=AddressKind.email, address="sule@example.com", verified=True)
    async with sessions() as session:
        pane = await conversation.load(session, await threads.for_customer(session, customer_id))
    assert set(pane.windows) == {"whatsapp", "email"}
    assert not pane.windows["whatsapp"].open and pane.windows["email"].open
    assert alternative(dict(pane.windows), "whatsapp") == "email"
