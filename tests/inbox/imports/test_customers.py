from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from inbox.channels import AddressKind, Channel
from inbox.customers import service as customers
from inbox.db import transaction
from inbox.events import InboundMessage, Party
from inbox.imports.customers import import_customers
from inbox.imports.table import Rejected
from inbox.ingest import ingest
from inbox.preferences import service as preferences

FILE = ("name;email;phone;pref.language;pref.size;consent.whatsapp\n"
        "Ayşe Yılmaz;;0532 123 45 67;tr;M;evet\n"
        "Mehmet;mehmet@example.net;;en;;no\n"
        "Nobody;;;tr;;\n"
        "Zeynep;z@example.net;;;;belki\n")


async def run(sessions: async_sessionmaker[AsyncSession], text: str) -> tuple[int, int, int, list[Rejected]]:
    summary = await import_customers(sessions, text.encode(), region="TR")
    return summary.created, summary.updated, summary.unchanged, summary.rejected


class TestImportCustomers:
    async def test_rows_join_the_customers_who_wrote_with_preferences_and_consents_from_import(
            self, sessions, ingest_config) -> None:
        async with transaction(sessions) as session:
            wrote = await ingest(session, InboundMessage(Channel.whatsapp, "SM1", Party(
                "whatsapp:+905321234567", AddressKind.phone, True, ""), text="Merhaba"), config=ingest_config)
        ayse = wrote.customer_id or 0
        created, updated, unchanged, rejected = await run(sessions, FILE)
        assert (created, updated, unchanged) == (1, 1, 0)
        assert rejected == [Rejected(4, "customer: needs an email or a phone number"),
                            Rejected(5, "consent.whatsapp: must be yes or no (evet/hayır), not 'belki'")]
        async with sessions() as session:
            # She had no name: the file's fills it in.
            assert (await customers.get(session, ayse)).name == "Ayşe Yılmaz"
            prefs = {(p.key, p.value, p.source) for p in await preferences.for_customer(session, ayse)}
            consents = [(c.channel, c.granted, c.source) for c in await preferences.consents_in_force(session, ayse)]
        assert prefs == {("language", "tr", "import"), ("size", "M", "import")}
        assert consents == [("whatsapp", True, "import")]

    async def test_the_same_file_again_changes_nothing(self, sessions) -> None:
        await run(sessions, FILE)
        again = await run(sessions, FILE)
        assert again[:3] == (0, 0, 2)

    async def test_a_withdrawn_consent_and_a_new_size_are_an_update(self, sessions) -> None:
        await run(sessions, FILE)
        changed = FILE.replace("tr;M;evet", "tr;L;hayır")
        assert (await run(sessions, changed))[:3] == (0, 1, 1)
