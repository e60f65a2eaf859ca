"""Email end to end over real SMTP: smtplib delivers to the app's own listener, and the app's
replies are caught by an aiosmtpd relay on loopback."""

import asyncio
import email.policy
import smtplib
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass
from email.message import EmailMessage

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from typer.testing import CliRunner

from inbox.agents.models import Role
from inbox.channels import Channel
from inbox.config import CoreSettings
from inbox.customers.models import Customer, Identity
from inbox.db import transaction
from inbox.messages.models import Attachment, Message
from inbox.replies import queue_reply
from inbox.threads import service as threads
from inbox.threads.models import Status, Thread
from tests.adapters.conftest import fixture_path
from tests.conftest import TEST_REDIS_URL
from tests.fakes.smtp_sink import SmtpSink, running
from tests.waiting import until
from tests.web.test_admin import _channels_page, _row
from tests.web.test_cli import _free_port
from tests.web.users import signed_in
from web.app import create_app
from web.cli import app as cli
from web.email_intake import ListenFailed

LIMIT = 200_000
# Smaller than a mail may be: a file between the two is refused by the inbox, not by SMTP.
FILE_LIMIT = 100_000
SUPPORT = "destek@acme.example"


@dataclass(frozen=True, slots=True)
class Mail:
    relay: SmtpSink
    port: int  # the app's listener


@pytest.fixture
def app_settings(db_url: str, tmp_path) -> CoreSettings:  # type: ignore[no-untyped-def]
    return CoreSettings(data_dir=tmp_path / "data", database_url=db_url, redis_url=TEST_REDIS_URL,
                        max_attachment_bytes=FILE_LIMIT)


@pytest.fixture(autouse=True)
async def mail(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Mail]:
    async with running(SmtpSink()) as relay:
        port = _free_port()
        for name, value in {"SUPPORT_ADDRESSES": f"{SUPPORT}, support@acme.example", "SMTP_LISTEN_PORT": str(port),
                            "SMTP_MAX_MESSAGE_BYTES": str(LIMIT), "SMTP_HOST": "127.0.0.1",
                            "SMTP_PORT": str(relay.port), "SMTP_SECURITY": "off",
                            "SMTP_FROM_NAME": "Acme Destek"}.items():
            monkeypatch.setenv(name, value)
        yield Mail(relay, port)


def _smtp(port: int, raw: bytes, sender: str, recipients: list[str]) -> dict[str, tuple[int, bytes]]:
    with smtplib.SMTP("127.0.0.1", port, timeout=15) as client:
        return client.sendmail(sender, recipients, raw)


async def deliver(mail: Mail, raw: bytes, *, sender: str = "customer@example.net",
                  to: tuple[str, ...] = (SUPPORT,)) -> dict[str, tuple[int, bytes]]:
    """smtplib in a thread: the listener runs on this event loop."""
    return await asyncio.to_thread(_smtp, mail.port, raw, sender, list(to))


def eml(name: str) -> bytes:
    return fixture_path("email", name).read_bytes()


async def stored(sessions: async_sessionmaker[AsyncSession], provider_id: str) -> list[Message]:
    async with sessions() as session:
        return list((await session.execute(select(Message).where(Message.channel == "email",
                                                                 Message.provider_id == provider_id))).scalars())


async def count(sessions: async_sessionmaker[AsyncSession], model: type) -> int:
    async with sessions() as session:
        return int((await session.execute(select(func.count()).select_from(model))).scalar_one())


async def thread_page(server: str, sessions, thread_id: int) -> str:  # type: ignore[no-untyped-def]
    agent = await signed_in(server, sessions, Role.agent, email=f"reader{thread_id}@shop.example")
    try:
        page = await agent.get(f"/inbox/threads/{thread_id}")
        assert page.status_code == 200
        return page.text
    finally:
        await agent.aclose()


class TestReceiving:
    async def test_turkish_latin5_mail_is_stored_when_250_arrives(self, mail: Mail, server: str, sessions) -> None:
        refused = await deliver(mail, eml("turkish__iso8859_9_qp.eml"), sender="ayse.yilmaz@example.net")
        assert refused == {}
        # No waiting: smtplib returned, so the 250 came, so the row is there.
        [message] = await stored(sessions, "<000801d9a1b2$3c4d5e60$7f8a9bac$@example.net>")
        assert message.subject == "Siparişim hâlâ gelmedi (#1002)"
        assert message.text.startswith("Merhaba,\n\n1002 numaralı siparişim hâlâ kargoya verilmedi.")
        async with sessions() as session:
            identity = (await session.execute(select(Identity))).scalar_one()
            customer = await session.get(Customer, identity.customer_id)
        assert (identity.channel, identity.address, identity.verified) == ("email", "ayse.yilmaz@example.net", True)
        assert customer is not None and customer.name == "Ayşe Yılmaz"
        page = await thread_page(server, sessions, message.thread_id)
        assert "Siparişim hâlâ gelmedi (#1002)" in page and "Doğum günü" in page

    async def test_the_same_mail_delivered_twice_is_stored_once(self, mail: Mail, server: str, sessions) -> None:
        for _ in range(2):
            assert await deliver(mail, eml("plain.eml")) == {}
        assert len(await stored(sessions, "<CAF3xYz+Q1w2e3r4t5y6u7i8o9p0aSdFgH@mail.example.org>")) == 1

    async def test_html_only_mail_reads_as_text_and_its_html_is_sanitized(self, mail: Mail, server: str,
                                                                          sessions) -> None:
        await deliver(mail, eml("html_only__script.eml"))
        [message] = await stored(sessions, "<html-only-4711@mail.example.com>")
        assert message.text.startswith("Merhaba,\n\nBana gönderdiğiniz iade kodu çalışmıyor: IADE-1006")
        for unsafe in ("<script", "onload", "javascript:", "tracker.example.com"):
            assert unsafe not in (message.html or "")
        agent = await signed_in(server, sessions, Role.agent)
        shown = await agent.get(f"/inbox/messages/{message.id}/html")
        await agent.aclose()
        assert shown.status_code == 200 and "<b>iade kodu</b>" in shown.text and "<script" not in shown.text
        assert "script-src" not in shown.headers["content-security-policy"]
        assert "default-src 'none'" in shown.headers["content-security-policy"]
        assert "sandbox" in shown.headers["content-security-policy"]

    async def test_a_reply_shows_what_is_new_and_folds_the_history_behind_a_toggle(self, mail: Mail, server: str,
                                                                                   sessions) -> None:
        await deliver(mail, eml("plain.eml"))
        await deliver(mail, eml("reply__quoted_history.eml"), to=("support+c5f1c2a7e@acme.example",))
        [reply] = await stored(sessions, "<CAF3xYz+R9t8y7u6i5o4p3a2s1dQwErTy@mail.example.org>")
        [first] = await stored(sessions, "<CAF3xYz+Q1w2e3r4t5y6u7i8o9p0aSdFgH@mail.example.org>")
        assert reply.thread_id == first.thread_id and reply.reply_to_id == first.id
        page = await thread_page(server, sessions, reply.thread_id)
        body, _, folded = page.partition(f'id="message-{reply.id}"')[2].partition('<details class="mail-full">')
        assert "Yes, please re-send it to my office instead" in body and "Sorry for the delay" not in body
        assert "Show full message" in folded and "&gt; Sorry for the delay." in folded.split("</details>")[0]

    async def test_attachments_and_inline_images_are_kept(self, mail: Mail, server: str, sessions) -> None:
        await deliver(mail, eml("inline_image__related.eml"))
        await deliver(mail, eml("attachment__pdf.eml"))
        async with sessions() as session:
            files = {a.filename: a for a in (await session.execute(select(Attachment))).scalars()}
        assert set(files) == {"kutu.png", "fatura.txt", "iade_formu_şubat.pdf"}
        agent = await signed_in(server, sessions, Role.agent)
        pdf = await agent.get(f"/inbox/attachments/{files['iade_formu_şubat.pdf'].id}")
        [related] = await stored(sessions, "<related-0815@example.net>")
        formatted = await agent.get(f"/inbox/messages/{related.id}/html")
        await agent.aclose()
        assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF-1.4")
        # The inline image travels inside the document: the frame may fetch nothing.
        assert 'src="data:image/png;base64,' in formatted.text

    async def test_an_out_of_office_is_a_line_that_reopens_nothing(self, mail: Mail, server: str, sessions) -> None:
        await deliver(mail, eml("plain.eml"))
        [first] = await stored(sessions, "<CAF3xYz+Q1w2e3r4t5y6u7i8o9p0aSdFgH@mail.example.org>")
        async with transaction(sessions) as session:
            thread = await threads.get(session, first.thread_id)
            await threads.mark_read(session, thread)
            await threads.set_status(session, thread, status=Status.resolved)
        # John's own client answered our reply while he was away.
        away = eml("auto_reply__exchange.eml").replace(b"Sarah Lee <sarah.lee@example.com>",
                                                       b"John Carter <john.carter@example.org>")
        assert await deliver(mail, away, sender="") == {}
        [line] = await stored(sessions, "<1a2b3c4d5e6f47a8b9c0d1e2f3a4b5c6@DB9PR01MB5678.eurprd01.prod.example.net>")
        async with sessions() as session:
            thread = await session.get(Thread, first.thread_id)
        assert line.direction == "event" and line.thread_id == first.thread_id
        assert thread is not None and (thread.status, thread.unread_count) == ("resolved", 0)
        page = await thread_page(server, sessions, first.thread_id)
        assert "Automatic reply from John Carter: Automatic reply: Where is my order #1001?" in page
        assert mail.relay.caught == []  # and nothing answered it

    async def test_a_bounce_fails_the_reply_it_returns(self, mail: Mail, server: str, sessions) -> None:
        await deliver(mail, eml("turkish__iso8859_9_qp.eml"))
        [first] = await stored(sessions, "<000801d9a1b2$3c4d5e60$7f8a9bac$@example.net>")
        async with transaction(sessions) as session:
            thread = await threads.get(session, first.thread_id)
            reply = await queue_reply(session, customer_id=thread.customer_id, channel=Channel.email, text="Yolda")
        [sent] = await mail.relay.wait_for(1)
        ours = sent.message["Message-ID"]

        async def recorded() -> bool:
            return bool(await stored(sessions, ours))

        # The relay's 250 comes a moment before the worker records the send; a bounce comes later.
        await until(recorded)
        dsn = eml("bounce__dsn_5_1_1.eml").replace(b"<conv-9a8b7c6d.msg-9001@acme.example>", ours.encode())
        assert await deliver(mail, dsn, sender="") == {}
        [failed] = await stored(sessions, ours)
        assert failed.id == reply.id and failed.delivery_status == "failed"
        assert failed.error == ("bounced by mx.example.net: 550 5.1.1 <ayse.yilmz@example.net>: Recipient address "
                                "rejected: User unknown in virtual mailbox table")
        page = await thread_page(server, sessions, first.thread_id)
        assert "Not delivered:" in page and "User unknown in virtual mailbox table" in page

    async def test_mail_for_anyone_else_is_refused_550(self, mail: Mail, server: str, sessions) -> None:
        with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
            await deliver(mail, eml("plain.eml"), to=("someone@gmail.com",))
        [(code, text)] = refused.value.recipients.values()
        assert code == 550 and b"relay access denied" in text
        # One of ours among others: only ours takes it, and the sender hears which were refused.
        partly = await deliver(mail, eml("plain.eml"), to=("friend@elsewhere.example", SUPPORT))
        assert list(partly) == ["friend@elsewhere.example"] and partly["friend@elsewhere.example"][0] == 550
        assert await count(sessions, Message) == 2  # the mail and its "conversation opened" line

    async def test_a_mail_over_the_limit_is_refused_552(self, mail: Mail, server: str, sessions) -> None:
        big = eml("plain.eml") + b"x" * 76 * 10 + b"\r\n" + (b"x" * 76 + b"\r\n") * (LIMIT // 78 + 10)
        with pytest.raises(smtplib.SMTPSenderRefused) as announced:
            await deliver(mail, big)  # smtplib announces SIZE=…: refused at MAIL FROM

        def unannounced() -> tuple[int, bytes]:
            with smtplib.SMTP("127.0.0.1", mail.port, timeout=15) as client:
                client.ehlo()
                client.mail("customer@example.net")
                client.rcpt(SUPPORT)
                return client.data(big)

        assert announced.value.smtp_code == 552
        # A client that does not announce it is stopped at the limit, while it sends.
        code, _ = await asyncio.to_thread(unannounced)
        assert code == 552
        assert await count(sessions, Message) == 0

    async def test_malformed_mime_is_accepted_and_shown_as_well_as_it_can_be(self, mail: Mail, server: str,
                                                                             sessions) -> None:
        assert await deliver(mail, eml("malformed__unclosed_multipart.eml")) == {}
        assert await deliver(mail, eml("malformed__not_a_header.eml")) == {}
        [broken] = await stored(sessions, "<broken-mime-2@example.org>")
        page = await thread_page(server, sessions, broken.thread_id)
        assert "Siparişim 1008 eksik geldi." in page and "veri.bin" in page
        assert "This mail arrived damaged: it is shown as well as it could be read." in page

    async def test_a_file_larger_than_the_inbox_keeps_is_refused_554_and_nothing_is_stored(
            self, mail: Mail, server: str, sessions) -> None:
        letter = EmailMessage()
        letter["From"], letter["To"], letter["Subject"] = "ali@example.com", SUPPORT, "Video"
        letter.set_content("Kutunun videosu ekte.")
        letter.add_attachment(b"\x00" * (FILE_LIMIT + 1), maintype="video", subtype="mp4", filename="kutu.mp4")
        with pytest.raises(smtplib.SMTPDataError) as refused:
            await deliver(mail, letter.as_bytes(policy=email.policy.SMTP))
        assert refused.value.smtp_code == 554 and b"larger than 100000 bytes" in refused.value.smtp_error
        assert await count(sessions, Message) == 0 and await count(sessions, Attachment) == 0

    async def test_hostile_headers_are_kept_within_bounds(self, mail: Mail, server: str, sessions) -> None:
        raw = (b"From: =?utf-8?q?Ay=00=C5=9Fe?= <ayse@example.net>\r\nMessage-ID: <nul@example.net>\r\n"
               # Folded over many lines, as a long header must be: 2,800 characters in all.
               b"Subject: " + b"\r\n ".join([b"uzun\x00 konu " * 20] * 10) + b"\r\n\r\nMerhaba\x00 d\xc3\xbcnya\r\n")
        assert await deliver(mail, raw) == {}
        [kept] = await stored(sessions, "<nul@example.net>")
        assert kept.subject is not None and len(kept.subject) == 998 and "\x00" not in kept.subject
        assert kept.text == "Merhaba dünya" and kept.author_name == "Ayşe"
        too_long = b"From: " + b"a" * 300 + b"@example.net\r\nSubject: x\r\n\r\nx\r\n"
        with pytest.raises(smtplib.SMTPDataError) as refused:
            await deliver(mail, too_long)
        assert refused.value.smtp_code == 554 and b"longer than an email address can be" in refused.value.smtp_error

    async def test_a_mail_that_names_no_sender_at_all_is_refused_554(self, mail: Mail, server: str,
                                                                     sessions) -> None:
        with pytest.raises(smtplib.SMTPDataError) as refused:
            await deliver(mail, b"Subject: ?\r\n\r\nkim?\r\n", sender="")
        assert refused.value.smtp_code == 554 and b"no sender" in refused.value.smtp_error
        assert await count(sessions, Message) == 0


class TestReplying:
    async def test_an_agents_reply_threads_in_the_customers_client(self, mail: Mail, server: str, sessions) -> None:
        await deliver(mail, eml("turkish__iso8859_9_qp.eml"))
        [first] = await stored(sessions, "<000801d9a1b2$3c4d5e60$7f8a9bac$@example.net>")
        agent = await signed_in(server, sessions, Role.agent, name="Deniz Kaya")
        answered = await agent.post(f"/inbox/threads/{first.thread_id}/messages", headers={"HX-Request": "true"},
                                    data={"kind": "reply", "channel": "email", "text": "Merhaba Ayşe Hanım,\n\nYolda."})
        assert answered.status_code == 200
        [sent] = await mail.relay.wait_for(1)
        headers = sent.message
        assert (sent.mail_from, sent.rcpt_tos) == (SUPPORT, ["ayse.yilmaz@example.net"])
        assert str(headers["From"]) == f"Deniz Kaya <{SUPPORT}>" and headers["To"] == "ayse.yilmaz@example.net"
        assert headers["Subject"] == "Re: Siparişim hâlâ gelmedi (#1002)"
        assert headers["In-Reply-To"] == headers["References"] == "<000801d9a1b2$3c4d5e60$7f8a9bac$@example.net>"
        assert headers.get_body(("html",)) is not None

        async def sent_and_recorded() -> bool:
            return bool(await stored(sessions, headers["Message-ID"]))

        await until(sent_and_recorded)
        [ours] = await stored(sessions, headers["Message-ID"])
        assert (ours.direction, ours.delivery_status, ours.subject) == ("outbound", "sent", headers["Subject"])
        # She answers from her client: In-Reply-To names our Message-ID, so it threads under our reply.
        answer = eml("reply__turkish_gmail.eml").replace(b"<conv-9a8b7c6d.msg-9001@acme.example>",
                                                         headers["Message-ID"].encode())
        await deliver(mail, answer)
        [hers] = await stored(sessions, "<CAJ+tr-reply-5511@mail.example.net>")
        assert (hers.thread_id, hers.reply_to_id) == (first.thread_id, ours.id)
        await agent.aclose()

    async def test_a_5xx_from_the_relay_fails_the_reply_with_the_servers_text(self, mail: Mail, server: str,
                                                                            sessions) -> None:
        mail.relay.enqueue("554 5.7.1 Message rejected: policy violation")
        await deliver(mail, eml("plain.eml"))
        [first] = await stored(sessions, "<CAF3xYz+Q1w2e3r4t5y6u7i8o9p0aSdFgH@mail.example.org>")
        async with transaction(sessions) as session:
            thread = await threads.get(session, first.thread_id)
            reply = await queue_reply(session, customer_id=thread.customer_id, channel=Channel.email, text="Hello")

        async def failed() -> bool:
            async with sessions() as session:
                found = await session.get(Message, reply.id)
                return found is not None and found.delivery_status == "failed"

        await until(failed)
        async with sessions() as session:
            found = await session.get(Message, reply.id)
        assert found is not None and found.error == "the mail server said: 554 5.7.1 Message rejected: policy violation"
        assert mail.relay.attempts == 1

    async def test_a_customer_known_only_by_the_email_on_an_order_is_answered_by_email(
            self, mail: Mail, server: str, sessions, api: httpx.AsyncClient) -> None:
        put = await api.put("/api/v1/orders/shop-1009", json={
            "customer": {"email": "Mert.Can@Example.com", "name": "Mert Can"}, "status": "paid", "total": "120.00",
            "currency": "TRY", "placed_at": "2026-11-20T10:00:00+03:00", "number": "1009"})
        assert put.status_code == 200
        async with transaction(sessions) as session:
            identity = (await session.execute(select(Identity))).scalar_one()
            thread = await threads.for_customer(session, identity.customer_id)
        agent = await signed_in(server, sessions, Role.agent, name="Deniz Kaya")
        page = await agent.get(f"/inbox/threads/{thread.id}")
        # The composer offers email, chosen already: it is the only way to reach them.
        assert '<option value="email" selected>' in page.text
        await agent.post(f"/inbox/threads/{thread.id}/messages", headers={"HX-Request": "true"},
                         data={"kind": "reply", "channel": "email", "text": "Siparişiniz 1009 yarın kargoda."})
        await agent.aclose()
        [sent] = await mail.relay.wait_for(1)
        assert sent.rcpt_tos == ["mert.can@example.com"]
        assert sent.message["Subject"] == "Siparişiniz 1009 yarın kargoda."


class TestSetUp:
    async def test_the_channels_page_shows_where_mail_comes_in_and_every_setting(self, mail: Mail, server: str,
                                                                               sessions) -> None:
        row = _row(await _channels_page(server, sessions), "email")
        assert "Configured" in row and "none yet" in row
        assert (f"Mail to {SUPPORT}, support@acme.example is received by the built-in SMTP server on "
                f"127.0.0.1:{mail.port}") in row
        assert "<code>SMTP_HOST</code>" in row and "<code>127.0.0.1</code>" in row
        assert "<code>SMTP_PASSWORD</code>" in row and "<code>IMAP_HOST</code>" in row
        await deliver(mail, eml("plain.eml"))
        assert "none yet" not in _row(await _channels_page(server, sessions), "email")

    async def test_channels_check_reaches_the_relay(self, mail: Mail) -> None:
        done = await asyncio.to_thread(CliRunner().invoke, cli, ["channels", "check"], env={"COLUMNS": "200"})
        assert f"email: SMTP relay 127.0.0.1:{mail.relay.port} (no TLS), replies from {SUPPORT}" in done.output

    async def test_a_listener_port_already_taken_stops_the_start_with_the_reason(
            self, mail: Mail, app_settings: CoreSettings) -> None:
        with socket.socket() as taken:
            taken.bind(("127.0.0.1", mail.port))
            taken.listen()
            app = create_app(app_settings)
            with pytest.raises(ListenFailed, match=f"cannot listen for mail on 127.0.0.1:{mail.port}"):
                async with app.router.lifespan_context(app):
                    pass
