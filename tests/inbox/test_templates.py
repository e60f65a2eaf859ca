import pytest

from inbox import templates
from inbox.channels import AddressKind, Channel
from inbox.db import transaction
from inbox.errors import Conflict, Invalid, NotFound
from inbox.events import InboundMessage, Party
from inbox.ingest import ingest
from tests.factories import make_order

SID = "HX" + "0123456789abcdef" * 2
SHIPPED = "Merhaba {{1}}, {{2}} numaralı siparişiniz kargoya verildi."


class TestPlaceholders:
    def test_each_number_once_in_order_of_appearance(self) -> None:
        assert templates.placeholders("{{2}} then {{1}}, again {{ 2 }}") == ["2", "1"]

    def test_a_text_without_placeholders_has_none(self) -> None:
        assert templates.placeholders("Merhaba, {name} değil") == []


class TestRender:
    def test_fills_every_placeholder(self) -> None:
        assert templates.render(SHIPPED, {"1": "Ayşe", "2": "1002"}) == \
            "Merhaba Ayşe, 1002 numaralı siparişiniz kargoya verildi."

    def test_a_missing_variable_is_named(self) -> None:
        with pytest.raises(Invalid, match=r"missing a value for \{\{2\}\}"):
            templates.render(SHIPPED, {"1": "Ayşe"})

    def test_an_empty_variable_is_refused_before_whatsapp_does(self) -> None:
        with pytest.raises(Invalid, match=r"\{\{1\}\} is empty"):
            templates.render(SHIPPED, {"1": "  ", "2": "1002"})

    def test_an_unknown_placeholder_is_refused(self) -> None:
        with pytest.raises(Invalid, match=r"no placeholder \{\{3\}\}; it has \{\{1\}\}, \{\{2\}\}"):
            templates.render(SHIPPED, {"1": "Ayşe", "2": "1002", "3": "x"})


class TestSuggested:
    def test_first_name_goes_to_1_and_the_order_number_after_the_word_order(self) -> None:
        values = {"customer.first_name": "Ayşe", "order.number": "1002"}
        assert templates.suggested(SHIPPED, values) == {"1": "Ayşe", "2": "1002"}
        assert templates.suggested("Hi {{1}}, order #{{2}} and {{3}}", values) == {"1": "Ayşe", "2": "1002"}

    def test_nothing_is_guessed_without_the_customers_details(self) -> None:
        assert templates.suggested(SHIPPED, {}) == {}


class TestSave:
    async def test_creates_updates_lists_and_removes(self, session) -> None:
        created = await templates.save(session, name=" siparis_kargoda ", content_sid=SID, language="tr",
                                       body=SHIPPED)
        assert (created.name, created.channel) == ("siparis_kargoda", "whatsapp")
        await templates.save(session, name="order_shipped", content_sid=SID.replace("0", "1"), language="en",
                             body="Hi {{1}}, your order {{2}} has shipped.")
        await templates.save(session, name="siparis_kargoda", content_sid=SID, language="tr",
                             body=SHIPPED + " İyi günler.", template_id=created.id)
        listed = await templates.all_templates(session, channel=Channel.whatsapp)
        assert [(t.name, t.body.endswith("İyi günler.")) for t in listed] == [
            ("order_shipped", False), ("siparis_kargoda", True)]
        await templates.remove(session, created.id or 0)
        assert [t.name for t in await templates.all_templates(session)] == ["order_shipped"]
        with pytest.raises(NotFound):
            await templates.remove(session, created.id or 0)

    async def test_names_are_unique(self, session) -> None:
        await templates.save(session, name="kargo", content_sid=SID, language="tr", body=SHIPPED)
        with pytest.raises(Conflict, match="kargo exists already"):
            await templates.save(session, name="kargo", content_sid=SID, language="en", body=SHIPPED)

    @pytest.mark.parametrize(("field", "changes"), [
        ("content_sid", {"content_sid": "MG" + "0" * 32}),
        ("content_sid", {"content_sid": "HX123"}),
        ("name", {"name": "sipariş kargoda"}),
        ("language", {"language": "Türkçe"}),
        ("body", {"body": "  "}),
        ("body", {"body": "Merhaba {{1}}, {{3}}"}),
        ("body", {"body": "x" * 1025}),
        ("channel", {"channel": "messenger"}),
    ])
    async def test_what_twilio_would_refuse_is_refused_here(self, session, field: str,
                                                            changes: dict[str, str]) -> None:
        fields = {"name": "kargo", "content_sid": SID, "language": "tr", "body": SHIPPED} | changes
        with pytest.raises(Invalid) as refused:
            await templates.save(session, **fields)
        assert refused.value.field == field
        assert await templates.all_templates(session) == []


class TestPrefilled:
    async def test_suggests_the_customers_first_name_and_newest_order(self, sessions, ingest_config) -> None:
        sender = Party("whatsapp:+905321234567", AddressKind.phone, True, "Ayşe Yılmaz")
        async with transaction(sessions) as session:
            customer_id = (await ingest(session, InboundMessage(Channel.whatsapp, "SM1", sender, text="Merhaba"),
                                        config=ingest_config)).customer_id or 0
            await make_order(session, customer_id=customer_id, external_id="1002")
            template = await templates.save(session, name="kargo", content_sid=SID, language="tr", body=SHIPPED)
            _, fields = await templates.prefilled(session, template.id or 0, customer_id=customer_id)
        assert fields == [("1", "Ayşe"), ("2", "1002")]
