"""IMAP polling end to end: the real app reads a loopback IMAP server, stops, starts again."""

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from adapters.base import CheckFailed
from adapters.email import Adapter
from adapters.email.settings import EmailSettings
from inbox.config import CoreSettings
from inbox.messages.models import Message
from inbox.poll_positions import PollPosition
from tests.adapters.conftest import fixture_path
from tests.conftest import TEST_DATABASE_URL, TEST_REDIS_URL
from tests.fakes.imap_server import PASSWORD, USER, ImapFake, running
from tests.fakes.loopback import serve
from tests.fakes.smtp_sink import SmtpSink
from tests.fakes.smtp_sink import running as relay_running
from tests.waiting import until
from web.app import create_app

MAILS = ("plain.eml", "turkish__iso8859_9_qp.eml", "attachment__pdf.eml")


@pytest.fixture
async def imap(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[ImapFake]:
    async with running(ImapFake()) as fake:
        for name, value in {"SUPPORT_ADDRESSES": USER, "SMTP_LISTEN_PORT": "0", "IMAP_HOST": "127.0.0.1",
                            "IMAP_PORT": str(fake.port), "IMAP_USER": USER, "IMAP_PASSWORD": PASSWORD,
                            "IMAP_SSL": "false", "IMAP_POLL_SECONDS": "0.05"}.items():
            monkeypatch.setenv(name, value)
        yield fake


@pytest.fixture
def settings(db_url: str, tmp_path: Path) -> CoreSettings:
    return CoreSettings(data_dir=tmp_path / "data", database_url=db_url, redis_url=TEST_REDIS_URL)


async def _inbound(app) -> int:  # type: ignore[no-untyped-def]
    async with app.state.sessions() as session:
        return int((await session.execute(select(func.count()).select_from(Message)
                                          .where(Message.direction == "inbound"))).scalar_one())


async def _run_until(settings: CoreSettings, count: int, *, polls_after: int = 0, fake: ImapFake) -> None:
    """Serve the app until it has `count` inbound mails, and `polls_after` more logins after that."""
    app = create_app(settings)
    async with serve(app, lifespan=True):
        async def enough() -> bool:
            return await _inbound(app) >= count

        await until(enough)
        logins = fake.logins
        await until(lambda: _logged_in(fake, logins + polls_after))
        assert await _inbound(app) == count


async def _logged_in(fake: ImapFake, logins: int) -> bool:
    return fake.logins >= logins


class TestPolling:
    async def test_nothing_is_missed_or_fetched_twice_across_restarts(self, imap: ImapFake,
                                                                      settings: CoreSettings) -> None:
        for name in MAILS[:2]:
            imap.deliver(fixture_path("email", name).read_bytes())
        await _run_until(settings, 2, polls_after=2, fake=imap)
        assert imap.fetched == [1, 2]
        # Nothing changed in the shop's mailbox: no fetch that sets \Seen, nothing stored or expunged.
        assert imap.writes == []
        imap.deliver(fixture_path("email", MAILS[2]).read_bytes())
        await _run_until(settings, 3, polls_after=2, fake=imap)
        assert imap.fetched == [1, 2, 3]

    async def test_a_new_uidvalidity_reads_the_mailbox_again_and_stores_nothing_twice(
            self, imap: ImapFake, settings: CoreSettings) -> None:
        for name in MAILS:
            imap.deliver(fixture_path("email", name).read_bytes())
        await _run_until(settings, 3, polls_after=1, fake=imap)
        imap.rebuild()
        await _run_until(settings, 3, polls_after=2, fake=imap)
        assert imap.fetched == [1, 2, 3, 1, 2, 3]
        app = create_app(settings)
        async with serve(app, lifespan=True), app.state.sessions() as session:
            [position] = (await session.execute(select(PollPosition))).scalars()
        assert (position.epoch, position.position) == (str(imap.uidvalidity), 3)
        assert position.source == f"imap://{USER}@127.0.0.1:{imap.port}/INBOX"


    @pytest.mark.skipif(not TEST_DATABASE_URL, reason="processes share one database on PostgreSQL")
    async def test_pollers_in_two_processes_store_each_mail_once_and_the_position_only_goes_forward(
            self, imap: ImapFake, settings: CoreSettings) -> None:
        # Two servers, both configured to poll the one mailbox (as with N processes behind a balancer),
        # slow enough to fetch that both are often reading the same mail.
        imap.fetch_delay = 0.05
        first, second = create_app(settings), create_app(settings)
        async with serve(first, lifespan=True), serve(second, lifespan=True):
            for _ in range(4):
                for name in MAILS:
                    imap.deliver(fixture_path("email", name).read_bytes().replace(
                        b"Message-ID: <", f"Message-ID: <{imap.next_uid}.".encode(), 1))

            async def all_stored() -> bool:
                return await _inbound(first) >= 12

            await until(all_stored)
            logins = imap.logins
            await until(lambda: _logged_in(imap, logins + 4))  # a few more rounds of both
            assert await _inbound(first) == 12
            async with first.state.sessions() as session:
                [position] = (await session.execute(select(PollPosition))).scalars()
        assert position.position == 12
        assert len(imap.fetched) > 12, "the two pollers never read the same mail: the race was not run"


class TestCheck:
    async def test_channels_check_names_the_mailbox_or_says_what_the_server_refused(self, imap: ImapFake) -> None:
        async with relay_running(SmtpSink()) as relay:
            good = EmailSettings(smtp_host="127.0.0.1", smtp_port=relay.port, smtp_security="off")
            assert (await Adapter(good).check()).endswith(f"; IMAP {USER}@127.0.0.1:{imap.port} INBOX")
            wrong = EmailSettings(smtp_host="127.0.0.1", smtp_port=relay.port, smtp_security="off",
                                  imap_password="nope")
            with pytest.raises(CheckFailed, match=r"IMAP: 127\.0\.0\.1 refused IMAP_USER/IMAP_PASSWORD"):
                await Adapter(wrong).check()
