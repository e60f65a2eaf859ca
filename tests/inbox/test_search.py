import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from inbox.channels import AddressKind, Channel
from inbox.db import transaction
from inbox.events import InboundMessage, Party
from inbox.ingest import IngestConfig, ingest
from inbox.search import search
from inbox.text import fold


class TestFold:
    @pytest.mark.parametrize("typed", ["istanbul", "İstanbul", "ISTANBUL", "ıstanbul", "İSTANBUL", "Istanbul"])
    def test_every_way_of_typing_istanbul_is_one_word(self, typed: str) -> None:
        assert fold(typed) == "istanbul"

    @pytest.mark.parametrize("typed", ["ışık", "isik", "IŞIK", "Işık", "ISIK"])
    def test_isik_variants_meet(self, typed: str) -> None:
        assert fold(typed) == "isik"

    def test_other_turkish_letters_fold_to_their_keyboard_form(self) -> None:
        assert fold("SİPARİŞ Öğle Çüş") == "siparis ogle cus"

    def test_accents_of_other_languages_fold_too(self) -> None:
        assert fold("Crème Brûlée") == "creme brulee"


async def _say(sessions: async_sessionmaker[AsyncSession], config: IngestConfig, sid: str, text: str,
               phone: str = "+905321234567") -> None:
    async with transaction(sessions) as session:
        await ingest(session, InboundMessage(Channel.whatsapp, sid, Party(phone, AddressKind.phone, True, "Ayşe"),
                                             text=text), config=config)


class TestSearch:
    async def test_all_words_must_match_as_prefixes(self, sessions, session, ingest_config) -> None:
        await _say(sessions, ingest_config, "a", "Kadıköy mağazasında iade")
        await _say(sessions, ingest_config, "b", "Kadıköy mağazası kapalı mı")
        hits = await search(session, "kadikoy iad", kind="message")
        assert len(hits) == 1

    async def test_newest_first_and_limited(self, sessions, session, ingest_config) -> None:
        for n in range(5):
            await _say(sessions, ingest_config, f"m{n}", f"kargo gecikti {n}")
        hits = await search(session, "KARGO", kind="message", limit=3)
        assert [h.ref_id for h in hits] == sorted((h.ref_id for h in hits), reverse=True)
        assert len(hits) == 3

    async def test_customers_found_by_name_not_by_their_messages(self, sessions, session, ingest_config) -> None:
        await _say(sessions, ingest_config, "c", "Şule Çelik burada")
        assert await search(session, "sule celik", kind="customer") == []
        assert len(await search(session, "ayse", kind="customer")) == 1

    @pytest.mark.parametrize("hostile", ['"', "*", "AND OR NOT", "kind : customer", "'); DROP TABLE x; --", "(", ""])
    async def test_query_syntax_in_user_input_is_just_text(self, sessions, session, ingest_config,
                                                           hostile: str) -> None:
        await _say(sessions, ingest_config, "d", "normal mesaj")
        assert await search(session, hostile, kind="message") == []
