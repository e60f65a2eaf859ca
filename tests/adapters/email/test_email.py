"""Email: every recorded mail parsed into what the inbox keeps; replies sent to a real SMTP relay on loopback."""

import asyncio
import random
import smtplib
import ssl
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
import trustme
from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.base import BadPayload, CheckFailed, RawRequest
from adapters.email import Adapter, smtp
from adapters.email.adapter import AUTO_REPLY, ENVELOPE_FROM, ENVELOPE_TO
from adapters.email.settings import EmailSettings
from inbox.channels import AddressKind, Channel
from inbox.events import (
    DeliveryStatus,
    DeliveryUpdate,
    Direction,
    InboundMessage,
    OutboundMessage,
    OutgoingFile,
    Party,
    SendFailed,
)
from tests.adapters.conftest import fixture_path, load_fixture
from tests.fakes.smtp_sink import SmtpSink, running

ISTANBUL = timezone(timedelta(hours=3))


def parsed(name: str, *, envelope_from: str | None = None) -> list[object]:
    headers = {ENVELOPE_FROM: envelope_from} if envelope_from is not None else {}
    return list(Adapter(EmailSettings()).parse(load_fixture("email", name, path="", headers=headers)))


def one(name: str, **kwargs: str) -> InboundMessage:
    [event] = parsed(name, **kwargs)
    assert isinstance(event, InboundMessage)
    return event


class TestParseFixtures:
    def test_plain_mail_is_a_message_from_its_sender_with_the_sign_off_folded(self) -> None:
        mail = one("plain.eml")
        assert mail == InboundMessage(
            channel=Channel.email, provider_id="<CAF3xYz+Q1w2e3r4t5y6u7i8o9p0aSdFgH@mail.example.org>",
            sender=Party("john.carter@example.org", AddressKind.email, True, "John Carter"),
            text="Hi,\n\nI ordered two mugs last Friday (order #1001) and the tracking page still\n"
                 "says \"label created\". Could you check what's going on?",
            subject="Where is my order #1001?", provider_at=datetime(2026, 1, 15, 9, 30, 12, tzinfo=UTC),
            extra={"email": {"full_text": mail.extra["email"]["full_text"]}})
        assert mail.extra["email"]["full_text"].endswith("going on?\n\nThanks,\nJohn")

    def test_multipart_alternative_shows_the_text_and_keeps_the_html(self) -> None:
        mail = one("alternative__tracking_pixel.eml")
        assert mail.text.startswith("Hello Acme team,\n\nCan I change the delivery address for order #1003 to:")
        assert "Moda Cad. No:5, Kadıköy, İstanbul" in mail.text
        # The HTML is kept raw here; ingest sanitizes it (and drops the pixel) once, for every channel.
        assert mail.html is not None and "<b>#1003</b>" in mail.html and "open.gif" in mail.html
        assert mail.provider_at == datetime(2026, 1, 15, 13, 4, 58, tzinfo=ISTANBUL)

    def test_turkish_iso_8859_9_quoted_printable_with_encoded_words(self) -> None:
        mail = one("turkish__iso8859_9_qp.eml")
        assert mail.sender == Party("ayse.yilmaz@example.net", AddressKind.email, True, "Ayşe Yılmaz")
        assert mail.subject == "Siparişim hâlâ gelmedi (#1002)"
        assert mail.text == ("Merhaba,\n\n1002 numaralı siparişim hâlâ kargoya verilmedi. Ödemeyi 12 Ocak'ta\n"
                             "yaptım. Lütfen ne zaman gönderileceğini bildirir misiniz? Doğum günü\n"
                             "hediyesi olduğu için çok acil.")
        # The signature, phone number and all, is one click away.
        assert mail.extra["email"]["full_text"].endswith("Teşekkürler,\nAyşe Yılmaz\n0532 123 45 67")

    def test_turkish_windows_1254_base64(self) -> None:
        mail = one("turkish__windows1254_base64.eml")
        assert (mail.sender.name, mail.subject) == ("Gökhan Öztürk", "Kulaklık değişimi (#1004)")
        assert mail.text.startswith("Merhaba,\n\nDün aldığım kulaklığın sağ tarafı çalışmıyor.")
        assert "Şu an İzmir'deyim" in mail.text and "Saygılarımla" not in mail.text

    def test_a_reply_folds_its_quoted_history_and_names_what_it_answers(self) -> None:
        mail = one("reply__quoted_history.eml")
        assert mail.text == ("Thanks for checking! Yes, please re-send it to my office instead:\n"
                             "Acme Tower, 5th floor, 1 Market St, San Francisco, CA 94105.\n\nJohn")
        assert mail.reply_to == ("<CAF3xYz+Q1w2e3r4t5y6u7i8o9p0aSdFgH@mail.example.org>",
                                 "<conv-5f1c2a7e.msg-8842@acme.example>")
        full = mail.extra["email"]["full_text"]
        assert "On Thu, 15 Jan 2026 at 10:02, Acme Support <support@acme.example> wrote:" in full
        assert "> Sorry for the delay." in full

    def test_a_turkish_gmail_reply_folds_tarihinde_sunu_yazdi_and_the_signature(self) -> None:
        mail = one("reply__turkish_gmail.eml")
        assert mail.text == "Kargo numarası geldi, teşekkürler! Yarın evde olacağım."
        assert mail.subject == "YNT: Siparişim hâlâ gelmedi (#1002)"
        assert mail.reply_to[-1] == "<conv-9a8b7c6d.msg-9001@acme.example>"
        assert "şunu yazdı:" in mail.extra["email"]["full_text"]

    def test_a_pdf_attachment_keeps_its_rfc_2231_name_and_bytes(self) -> None:
        mail = one("attachment__pdf.eml")
        [pdf] = mail.files
        assert (pdf.filename, pdf.content_type) == ("iade_formu_şubat.pdf", "application/pdf")
        assert pdf.data is not None and pdf.data.startswith(b"%PDF-1.4") and len(pdf.data) == 592
        assert mail.subject == "İade formu (#1002)"

    def test_inline_images_and_attachments_are_files_and_cid_points_at_them(self) -> None:
        mail = one("inline_image__related.eml")
        assert [(f.filename, f.content_type) for f in mail.files] == [("kutu.png", "image/png"),
                                                                     ("fatura.txt", "text/plain")]
        assert mail.files[0].data is not None and mail.files[0].data.startswith(b"\x89PNG")
        assert mail.files[1].data == b"Fatura 1007: 349,90 TL"
        assert mail.extra["email"]["cids"] == {"kutu@example.net": 0}
        assert mail.html is not None and 'src="cid:kutu@example.net"' in mail.html
        # An address is kept as written; ingest makes it canonical (lower-case).
        assert mail.sender.address == "Can.Aksoy@Example.NET"

    def test_html_only_mail_becomes_text_with_its_links_and_keeps_the_html(self) -> None:
        mail = one("html_only__script.eml")
        assert mail.text == ("Merhaba,\n\nBana gönderdiğiniz iade kodu çalışmıyor: IADE-1006\n\n"
                             "Kargo takibi <https://kargo.example.com/takip/1006>")
        assert "alert" not in mail.text and "font-family" not in mail.text
        assert mail.html is not None and "<script>" in mail.html

    def test_an_out_of_office_is_an_event_that_answers_our_reply(self) -> None:
        mail = one("auto_reply__vacation.eml", envelope_from="")
        assert mail.direction == Direction.event
        assert mail.extra == {"event": AUTO_REPLY, "reason": "Auto-Submitted: auto-replied (vacation)"}
        assert mail.subject == "Otomatik yanıt: Re: İade talebiniz hk. (#0998)"
        assert mail.reply_to == ("<conv-2b7d9e11.msg-8870@acme.example>",)

    def test_an_exchange_automatic_reply_is_an_event_too(self) -> None:
        mail = one("auto_reply__exchange.eml")
        assert (mail.direction, mail.extra["reason"]) == (Direction.event, "Auto-Submitted: auto-generated")
        assert mail.text.startswith("I am out of the office until Monday 19 January")

    def test_a_bounce_fails_the_reply_it_returns_with_the_servers_reason(self) -> None:
        assert parsed("bounce__dsn_5_1_1.eml", envelope_from="") == [DeliveryUpdate(
            Channel.email, "<conv-9a8b7c6d.msg-9001@acme.example>", DeliveryStatus.failed,
            error="bounced by mx.example.net: 550 5.1.1 <ayse.yilmz@example.net>: Recipient address rejected: "
                  "User unknown in virtual mailbox table")]

    def test_a_header_block_broken_in_the_middle_is_kept_as_text(self) -> None:
        mail = one("malformed__not_a_header.eml")
        assert mail.sender.address == "broken@example.org"
        # An unknown charset in the subject: the bytes read as windows-1254, the Turkish guess.
        assert mail.subject == "Bozuk şifre"
        assert "This line is not a header" in mail.text
        assert mail.provider_at is None  # "not a date at all"
        assert mail.extra["email"]["defects"] == ["MissingHeaderBodySeparatorDefect"]

    def test_an_unclosed_multipart_with_an_unknown_charset_and_bad_base64_is_read_as_well_as_it_can(self) -> None:
        mail = one("malformed__unclosed_multipart.eml")
        assert mail.text == "Siparişim 1008 eksik geldi. Lütfen yardım edin."
        [blob] = mail.files
        assert blob.filename == "veri.bin"
        assert "CloseBoundaryNotFoundDefect" in mail.extra["email"]["defects"]


class TestParseEdges:
    def test_without_message_id_the_mails_bytes_are_its_id(self) -> None:
        raw = b"From: a@shop.example\r\nSubject: hi\r\n\r\nbody\r\n"
        first = Adapter(EmailSettings()).parse(RawRequest("SMTP", "", {}, body=raw))[0]
        again = Adapter(EmailSettings()).parse(RawRequest("SMTP", "", {}, body=raw))[0]
        assert isinstance(first, InboundMessage) and isinstance(again, InboundMessage)
        assert first.provider_id == again.provider_id and first.provider_id.startswith("sha256:")

    def test_without_from_the_envelope_sender_is_the_customer(self) -> None:
        raw = b"Subject: hi\r\nMessage-ID: <x@y.example>\r\n\r\nbody\r\n"
        [mail] = Adapter(EmailSettings()).parse(RawRequest("SMTP", "", {ENVELOPE_FROM: "deniz@example.com"}, body=raw))
        assert isinstance(mail, InboundMessage) and mail.sender.address == "deniz@example.com"

    def test_no_sender_anywhere_is_refused(self) -> None:
        with pytest.raises(BadPayload, match="no sender"):
            Adapter(EmailSettings()).parse(RawRequest("SMTP", "", {ENVELOPE_FROM: ""}, body=b"just text\r\n"))

    def test_a_delayed_dsn_changes_nothing(self) -> None:
        raw = fixture_path("email", "bounce__dsn_5_1_1.eml").read_bytes().replace(b"Action: failed",
                                                                                 b"Action: delayed")
        assert Adapter(EmailSettings()).parse(RawRequest("SMTP", "", {}, body=raw)) == []

    @settings(max_examples=200, deadline=None)
    @given(st.binary(max_size=2000))
    def test_any_bytes_are_a_message_or_a_clear_refusal(self, raw: bytes) -> None:
        try:
            events = Adapter(EmailSettings()).parse(RawRequest("SMTP", "", {ENVELOPE_FROM: "x@shop.example"},
                                                               body=raw))
        except BadPayload:
            return
        assert all(isinstance(event, InboundMessage | DeliveryUpdate) for event in events)

    def test_mangled_fixtures_never_crash_the_parser(self) -> None:
        rng = random.Random(5)
        for path in sorted(fixture_path("email", "plain.eml").parent.iterdir()):
            raw = bytearray(path.read_bytes())
            for _ in range(30):
                mangled = bytearray(raw)
                for _ in range(rng.randint(1, 20)):
                    mangled[rng.randrange(len(mangled))] = rng.randrange(256)
                Adapter(EmailSettings()).parse(RawRequest("SMTP", "", {ENVELOPE_FROM: "x@shop.example"},
                                                          body=bytes(mangled)))


class TestSupportAddresses:
    def test_support_addresses_and_their_plus_tags_are_ours_and_nothing_else(self) -> None:
        mine = EmailSettings(support_addresses="Destek@Acme.example, returns@acme.example")
        assert mine.accepts("destek@acme.example") and mine.accepts("DESTEK+c5f1@acme.example")
        assert mine.accepts("<returns@acme.example>")
        assert not mine.accepts("destek@acme.example.evil.com") and not mine.accepts("someone@gmail.com")
        assert not mine.accepts("destek") and mine.from_address == "destek@acme.example"


def _sending(port: int, **overrides: object) -> EmailSettings:
    values: dict[str, object] = {"support_addresses": "destek@acme.example", "smtp_host": "127.0.0.1",
                                 "smtp_port": port, "smtp_security": "off", "smtp_from_name": "Acme Destek",
                                 "smtp_timeout_seconds": 5}
    values.update(overrides)
    return EmailSettings(**values)  # type: ignore[arg-type]


REPLY = OutboundMessage(message_id=7, channel=Channel.email, to="ayse.yilmaz@example.net",
                        text="Merhaba Ayşe Hanım,\n\nKargonuz yolda: https://kargo.example.com/takip/1002\n\nDeniz",
                        subject="Re: Siparişim hâlâ gelmedi (#1002)",
                        references=("<000801d9a1b2$3c4d5e60$7f8a9bac$@example.net>",),
                        in_reply_to="<000801d9a1b2$3c4d5e60$7f8a9bac$@example.net>", author_name="Deniz Kaya")


class TestSend:
    async def test_a_reply_threads_under_the_customers_mail(self, tmp_path: Path) -> None:
        invoice = tmp_path / "fatura.pdf"
        invoice.write_bytes(b"%PDF-1.4 fatura")
        async with running(SmtpSink()) as sink:
            result = await Adapter(_sending(sink.port)).send(replace(
                REPLY, files=(OutgoingFile("fatura_şubat.pdf", "application/pdf", str(invoice), 15),)))
            [caught] = await sink.wait_for(1)
        mail = caught.message
        assert (caught.mail_from, caught.rcpt_tos) == ("destek@acme.example", ["ayse.yilmaz@example.net"])
        assert str(mail["From"]) == "Deniz Kaya <destek@acme.example>"
        assert mail["Subject"] == "Re: Siparişim hâlâ gelmedi (#1002)"
        assert mail["In-Reply-To"] == "<000801d9a1b2$3c4d5e60$7f8a9bac$@example.net>"
        assert mail["References"] == "<000801d9a1b2$3c4d5e60$7f8a9bac$@example.net>"
        assert result.provider_id == mail["Message-ID"] and mail["Message-ID"].endswith("@acme.example>")
        assert mail["Date"] is not None
        plain, html = mail.get_body(("plain",)), mail.get_body(("html",))
        assert plain is not None and "Kargonuz yolda" in plain.get_content()
        assert html is not None and '<a href="https://kargo.example.com/takip/1002">' in html.get_content()
        [attached] = list(mail.iter_attachments())
        assert (attached.get_filename(), attached.get_content()) == ("fatura_şubat.pdf", b"%PDF-1.4 fatura")

    async def test_an_agents_name_is_optional_and_a_first_mail_gets_its_first_line_as_subject(self) -> None:
        async with running(SmtpSink()) as sink:
            await Adapter(_sending(sink.port)).send(OutboundMessage(
                message_id=8, channel=Channel.email, to="ali@example.com", text="Siparişiniz hazır.\nİyi günler"))
            [caught] = await sink.wait_for(1)
        assert str(caught.message["From"]) == "Acme Destek <destek@acme.example>"
        assert caught.message["Subject"] == "Siparişiniz hazır."
        assert caught.message["In-Reply-To"] is None and caught.message["References"] is None

    async def test_a_4xx_is_retried_later_with_the_servers_text(self) -> None:
        async with running(SmtpSink()) as sink:
            sink.enqueue("451 4.7.1 Greylisted, please try again in 5 minutes")
            with pytest.raises(SendFailed) as failed:
                await Adapter(_sending(sink.port)).send(REPLY)
        assert failed.value.transient
        assert failed.value.reason == "the mail server said: 451 4.7.1 Greylisted, please try again in 5 minutes"

    async def test_a_5xx_fails_with_the_servers_text(self) -> None:
        async with running(SmtpSink()) as sink:
            sink.enqueue("554 5.7.1 Message rejected: spam content")
            with pytest.raises(SendFailed) as failed:
                await Adapter(_sending(sink.port)).send(REPLY)
        assert not failed.value.transient
        assert failed.value.reason == "the mail server said: 554 5.7.1 Message rejected: spam content"

    async def test_a_relay_that_cannot_be_reached_is_transient(self) -> None:
        with pytest.raises(SendFailed) as failed:
            await Adapter(_sending(9)).send(REPLY)
        assert failed.value.transient and "127.0.0.1:9 could not be reached" in failed.value.reason

    async def test_starttls_and_auth_when_the_relay_wants_them(self, tmp_path: Path) -> None:
        ca = trustme.CA()
        server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ca.issue_cert("127.0.0.1").configure_cert(server_context)
        ca_file = tmp_path / "ca.pem"
        ca.cert_pem.write_to_path(str(ca_file))
        async with running(SmtpSink(login=("destek@acme.example", "s3cret"), tls_context=server_context)) as sink:
            secure = _sending(sink.port, smtp_security="require", smtp_ca_file=str(ca_file),
                              smtp_username="destek@acme.example", smtp_password="s3cret")
            await Adapter(secure).send(REPLY)
            await sink.wait_for(1)
            assert sink.authenticated == ["destek@acme.example"]
            assert "STARTTLS, signed in as destek@acme.example" in await Adapter(secure).check()
            wrong = _sending(sink.port, smtp_security="require", smtp_ca_file=str(ca_file),
                             smtp_username="destek@acme.example", smtp_password="nope")
            with pytest.raises(SendFailed) as refused:
                await Adapter(wrong).send(REPLY)
            with pytest.raises(CheckFailed, match="refused SMTP_USERNAME/SMTP_PASSWORD"):
                await Adapter(wrong).check()
        assert not refused.value.transient and "SMTP_USERNAME/SMTP_PASSWORD" in refused.value.reason

    async def test_not_configured_never_pretends_to_send(self) -> None:
        adapter = Adapter(EmailSettings())
        assert not adapter.configured
        with pytest.raises(SendFailed, match="email is not configured"):
            await adapter.send(REPLY)
        with pytest.raises(CheckFailed, match="not configured"):
            await adapter.check()



class TestListener:
    """smtp.py on its own: what the sending MTA hears when storing the mail goes wrong."""

    @staticmethod
    async def _answer(deliver) -> tuple[int, bytes]:  # type: ignore[no-untyped-def]
        handler = smtp.Handler(accepts=EmailSettings(support_addresses="destek@acme.example").accepts,
                               deliver=deliver)
        server = await smtp.listen(handler, host="127.0.0.1", port=0, hostname="acme.example", max_bytes=100_000)
        port = server.sockets[0].getsockname()[1]

        def send() -> tuple[int, bytes]:
            with smtplib.SMTP("127.0.0.1", port, timeout=10) as client:
                try:
                    client.sendmail("a@example.net", ["destek@acme.example"],
                                    fixture_path("email", "plain.eml").read_bytes())
                except smtplib.SMTPDataError as error:
                    return error.smtp_code, error.smtp_error
                return 250, b""

        try:
            return await asyncio.to_thread(send)
        finally:
            server.close()
            await server.wait_closed()

    async def test_trouble_on_our_side_is_451_so_the_sender_tries_again(self) -> None:
        async def database_down(raw: RawRequest) -> None:
            raise ConnectionRefusedError("the database is down")

        code, text = await self._answer(database_down)
        assert (code, text) == (451, b"4.3.0 Temporary failure on our side: please try again later")

    async def test_a_mail_we_cannot_keep_is_554_with_the_reason_on_one_line(self) -> None:
        async def refuse(raw: RawRequest) -> None:
            raise BadPayload("file: larger than\r\n25 MB")

        assert await self._answer(refuse) == (554, b"5.6.0 file: larger than 25 MB")

    async def test_the_handler_hands_over_the_bytes_and_the_envelope(self) -> None:
        seen: list[RawRequest] = []

        async def keep(raw: RawRequest) -> None:
            seen.append(raw)

        assert await self._answer(keep) == (250, b"")
        [raw] = seen
        assert raw.body == fixture_path("email", "plain.eml").read_bytes()
        assert raw.headers == {ENVELOPE_FROM: "a@example.net", ENVELOPE_TO: "destek@acme.example"}
