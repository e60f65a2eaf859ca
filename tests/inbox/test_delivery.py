"""The delivery worker against a loopback Twilio, in this process and in killed ones.

Run as `python -m tests.inbox.test_delivery DB_URL WORKER_ID LEASE` this module is a worker
process (WhatsApp adapter from the TWILIO_* environment), for the crash and many-workers tests.
"""

import asyncio
import os
import signal
import sys
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlmodel import col

from adapters import adapter_for
from adapters.whatsapp import Adapter
from adapters.whatsapp.settings import WhatsAppSettings
from inbox import templates
from inbox.channels import AddressKind, Channel
from inbox.db import make_engine, make_sessionmaker, transaction, utcnow
from inbox.delivery import (
    INTERRUPTED,
    NO_FILES,
    NOT_CONFIGURED,
    Policy,
    Sender,
    backoff_delay,
    claim_next,
    deliver_next,
    recover_stale,
    retry,
    run_worker,
)
from inbox.errors import Conflict
from inbox.events import (
    DeliveryStatus,
    DeliveryUpdate,
    InboundMessage,
    OutboundMessage,
    Party,
    SendFailed,
    SendResult,
)
from inbox.files import StoredFile
from inbox.ingest import IngestConfig, ingest
from inbox.messages.models import EarlyReceipt, Message
from inbox.realtime import LocalHub
from inbox.replies import queue_reply, queue_template
from tests.fakes.twilio_api import ACCOUNT_SID, AUTH_TOKEN, TwilioFake, running
from tests.waiting import until

ROOT = Path(__file__).resolve().parents[2]
PUBLIC = "https://inbox.example.com"
# Worker options that keep the suite quick: retries within milliseconds, short polls.
FAST: dict[str, Any] = {"max_attempts": 4, "lease_seconds": 30, "backoff_base": 0.02, "backoff_cap": 0.1,
                        "poll_seconds": 0.05}


def _phone(index: int) -> str:
    return f"+90532123{index:04d}"


async def _customer(sessions: async_sessionmaker[AsyncSession], config: IngestConfig, index: int = 0) -> int:
    event = InboundMessage(Channel.whatsapp, f"SMin{index}", Party(f"whatsapp:{_phone(index)}", AddressKind.phone,
                                                                    True, f"Müşteri {index}"), text="Merhaba")
    async with transaction(sessions) as session:
        result = await ingest(session, event, config=config)
    assert result.customer_id is not None
    return result.customer_id


async def _reply(sessions: async_sessionmaker[AsyncSession], customer_id: int, text: str) -> int:
    async with transaction(sessions) as session:
        message = await queue_reply(session, customer_id=customer_id, channel=Channel.whatsapp, text=text)
    assert message.id is not None
    return message.id


async def _load(sessions: async_sessionmaker[AsyncSession], message_id: int) -> Message:
    # A fresh, closed session each time: on SQLite an open one would hold the write lock.
    async with sessions() as session:
        message = await session.get(Message, message_id)
    assert message is not None
    return message


async def _status_is(sessions: async_sessionmaker[AsyncSession], message_id: int, *statuses: str) -> bool:
    return (await _load(sessions, message_id)).delivery_status in statuses


async def _has_error(sessions: async_sessionmaker[AsyncSession], message_id: int) -> bool:
    return (await _load(sessions, message_id)).error is not None


@pytest.fixture
async def twilio() -> AsyncIterator[TwilioFake]:
    async with running() as fake:
        yield fake


def _whatsapp_settings(twilio: TwilioFake) -> WhatsAppSettings:
    return WhatsAppSettings(account_sid=ACCOUNT_SID, auth_token=AUTH_TOKEN,
                            whatsapp_from="+14155550100", api_base_url=twilio.base_url, public_base_url=PUBLIC)


@pytest.fixture
async def whatsapp(twilio: TwilioFake) -> AsyncIterator[Adapter]:
    adapter = Adapter(_whatsapp_settings(twilio))
    yield adapter
    await adapter.aclose()


@pytest.fixture
def wake() -> asyncio.Event:
    return asyncio.Event()


@pytest.fixture
def wired(engine: AsyncEngine, hub: LocalHub, wake: asyncio.Event) -> async_sessionmaker[AsyncSession]:
    """Sessions as the app makes them: a reply's commit wakes the worker."""
    return make_sessionmaker(engine, hub=hub, wake_delivery=wake.set)


@asynccontextmanager
async def _worker(sessions: async_sessionmaker[AsyncSession], senders: dict[Channel, Any], *,
                  wake: asyncio.Event | None = None, worker_id: str = "w1",
                  **options: Any) -> AsyncIterator[asyncio.Task[None]]:
    stop = asyncio.Event()
    settings = {**FAST, **options}
    task = asyncio.create_task(run_worker(sessions, senders, stop=stop, wake=wake or asyncio.Event(),
                                          worker_id=worker_id, **settings))
    try:
        yield task
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)


@dataclass
class Scripted:
    """A sender for worker behaviour the provider cannot show: records messages, answers from a script."""

    answers: list[SendResult | BaseException] = field(default_factory=list)
    sent: list[OutboundMessage] = field(default_factory=list)
    channel: Channel = Channel.whatsapp

    async def send(self, message: OutboundMessage) -> SendResult:
        self.sent.append(message)
        answer = self.answers.pop(0) if self.answers else SendResult(f"SMok{len(self.sent)}")
        if isinstance(answer, BaseException):
            raise answer
        return answer


class TestEarlyReceipts:
    async def test_a_status_that_overtook_the_send_is_applied_once_the_send_is_recorded(self, sessions,
                                                                                     ingest_config):
        message_id = await _reply(sessions, await _customer(sessions, ingest_config), "Kargonuz yolda")
        # Twilio's "delivered" callback arrives before the answer to our create call was committed.
        async with transaction(sessions) as session:
            held = await ingest(session, DeliveryUpdate(Channel.whatsapp, "SMearly", DeliveryStatus.delivered),
                                config=ingest_config)
        assert held.outcome == "held"

        async with _worker(sessions, {Channel.whatsapp: Scripted(answers=[SendResult("SMearly")])}):
            await until(lambda: _status_is(sessions, message_id, "delivered"))

        async with sessions() as session:
            assert (await session.execute(select(EarlyReceipt))).first() is None


class TestClaimNext:
    async def test_marks_the_oldest_due_reply_sending_with_an_attempt(self, sessions, ingest_config):
        customer = await _customer(sessions, ingest_config)
        first = await _reply(sessions, customer, "bir")
        await _reply(sessions, await _customer(sessions, ingest_config, 1), "iki")
        now = utcnow()
        async with transaction(sessions) as session:
            claimed = await claim_next(session, worker_id="w1", now=now)
        assert claimed is not None and claimed.id == first
        stored = await _load(sessions, first)
        assert (stored.delivery_status, stored.claimed_by, stored.claimed_at, stored.attempts) == (
            "sending", "w1", now, 1)

    async def test_skips_replies_not_due_yet(self, sessions, ingest_config):
        message_id = await _reply(sessions, await _customer(sessions, ingest_config), "sonra")
        async with transaction(sessions) as session:
            await session.execute(update(Message).where(Message.id == message_id)  # type: ignore[arg-type]
                                  .values(next_attempt_at=utcnow() + timedelta(minutes=5)))
        async with transaction(sessions) as session:
            assert await claim_next(session, worker_id="w1", now=utcnow()) is None

    async def test_a_later_reply_in_the_thread_waits_for_the_earlier_one(self, sessions, ingest_config):
        customer = await _customer(sessions, ingest_config)
        first = await _reply(sessions, customer, "bir")
        await _reply(sessions, customer, "iki")
        async with transaction(sessions) as session:
            assert (await claim_next(session, worker_id="w1", now=utcnow())).id == first  # type: ignore[union-attr]
        async with transaction(sessions) as session:
            # "iki" is due, but "bir" is still being sent.
            assert await claim_next(session, worker_id="w2", now=utcnow()) is None


class TestRecoverStale:
    async def test_a_claim_older_than_the_lease_fails_as_interrupted(self, sessions, ingest_config):
        customer = await _customer(sessions, ingest_config)
        stale = await _reply(sessions, customer, "bir")
        fresh = await _reply(sessions, await _customer(sessions, ingest_config, 1), "iki")
        start = utcnow()
        async with transaction(sessions) as session:
            await claim_next(session, worker_id="dead", now=start)
            await claim_next(session, worker_id="alive", now=start + timedelta(seconds=150))
        async with transaction(sessions) as session:
            assert await recover_stale(session, now=start + timedelta(seconds=200), lease_seconds=120) == [stale]
        stale_row, fresh_row = await _load(sessions, stale), await _load(sessions, fresh)
        assert (stale_row.delivery_status, stale_row.error) == ("failed", INTERRUPTED)
        assert fresh_row.delivery_status == "sending"


class TestBackoff:
    def test_grows_exponentially_within_jitter_and_honours_retry_after(self):
        delays = [backoff_delay(n, base=1, cap=8) for n in range(1, 6)]
        for attempt, delay in enumerate(delays, 1):
            ceiling = min(8, 2 ** (attempt - 1))
            assert ceiling / 2 <= delay <= ceiling
        assert backoff_delay(1, base=1, cap=8, retry_after=30) == 30


class TestRunWorker:
    async def test_reply_is_sent_once_and_keeps_twilios_sid(self, wired, wake, ingest_config, whatsapp, twilio, hub):
        live = hub.subscribe()
        customer = await _customer(wired, ingest_config)
        # A long poll: only the wake-up from the reply's commit can make this quick.
        async with _worker(wired, {Channel.whatsapp: whatsapp}, wake=wake, poll_seconds=30):
            await asyncio.sleep(0.05)
            message_id = await _reply(wired, customer, "Siparişiniz yarın kargoda.")
            await until(lambda: _status_is(wired, message_id, "sent"), within=3)
        stored = await _load(wired, message_id)
        assert [r.get("Body") for r in twilio.requests] == ["Siparişiniz yarın kargoda."]
        assert twilio.requests[0].get("To") == f"whatsapp:{_phone(0)}"
        assert (stored.provider_id, stored.attempts, stored.error) == (twilio.created[0], 1, None)
        events = []
        while not live.queue.empty():
            events.append(live.queue.get_nowait())
        assert {"message_id": message_id, "status": "sent", "error": None} in [
            e["data"] for e in events if e and e["kind"] == "message.delivery"]

    async def test_transient_errors_are_retried_with_backoff_then_sent(self, sessions, ingest_config, whatsapp,
                                                                       twilio):
        twilio.enqueue("server_error", "rate_limited")
        message_id = await _reply(sessions, await _customer(sessions, ingest_config), "tekrar")
        async with _worker(sessions, {Channel.whatsapp: whatsapp}):
            await until(lambda: _status_is(sessions, message_id, "sent", "failed"))
        stored = await _load(sessions, message_id)
        assert (stored.delivery_status, stored.attempts, stored.error) == ("sent", 3, None)
        assert stored.provider_id == twilio.created[0] and len(twilio.requests) == 3

    async def test_permanent_error_fails_with_twilios_reason(self, sessions, ingest_config, whatsapp, twilio):
        twilio.enqueue("invalid_to")
        message_id = await _reply(sessions, await _customer(sessions, ingest_config), "yanlış numara")
        async with _worker(sessions, {Channel.whatsapp: whatsapp}):
            await until(lambda: _status_is(sessions, message_id, "failed", "sent"))
        stored = await _load(sessions, message_id)
        assert stored.delivery_status == "failed" and stored.attempts == 1
        assert stored.error == "21211: Invalid 'To' number (Twilio: Invalid 'To' Phone Number: +90532123456)"
        assert len(twilio.requests) == 1

    async def test_gives_up_after_max_attempts(self, sessions, ingest_config, whatsapp, twilio):
        twilio.default = "server_error"
        message_id = await _reply(sessions, await _customer(sessions, ingest_config), "hiç gitmeyecek")
        async with _worker(sessions, {Channel.whatsapp: whatsapp}, max_attempts=3):
            await until(lambda: _status_is(sessions, message_id, "failed"))
        stored = await _load(sessions, message_id)
        assert stored.error == "gave up after 3 attempts: 20500: Internal Server Error"
        assert len(twilio.requests) == 3

    async def test_channel_without_a_sender_fails_as_not_configured(self, sessions, ingest_config, twilio):
        message_id = await _reply(sessions, await _customer(sessions, ingest_config), "kimse yok")
        async with _worker(sessions, {}):
            await until(lambda: _status_is(sessions, message_id, "failed"))
        assert (await _load(sessions, message_id)).error == NOT_CONFIGURED
        assert twilio.requests == []

    async def test_a_sender_that_raises_is_retried_and_the_worker_lives_on(self, sessions, ingest_config):
        sender = Scripted([RuntimeError("socket closed"), SendResult("SMafter")])
        message_id = await _reply(sessions, await _customer(sessions, ingest_config), "inatçı")
        async with _worker(sessions, {Channel.whatsapp: sender}) as task:
            await until(lambda: _status_is(sessions, message_id, "sent"))
            assert not task.done()
        stored = await _load(sessions, message_id)
        assert (stored.provider_id, stored.attempts) == ("SMafter", 2)

    async def test_retry_after_from_the_provider_is_respected(self, sessions, ingest_config):
        sender = Scripted([SendFailed("slow down", transient=True, retry_after=60)])
        message_id = await _reply(sessions, await _customer(sessions, ingest_config), "sabır")
        async with _worker(sessions, {Channel.whatsapp: sender}):
            await until(lambda: _has_error(sessions, message_id))
        stored = await _load(sessions, message_id)
        assert (stored.delivery_status, stored.error, len(sender.sent)) == ("queued", "slow down", 1)
        assert stored.next_attempt_at is not None
        assert stored.next_attempt_at - utcnow() > timedelta(seconds=55)

    async def test_replies_to_one_customer_leave_in_the_order_written(self, sessions, ingest_config, whatsapp,
                                                                      twilio):
        twilio.enqueue("server_error")
        customer = await _customer(sessions, ingest_config)
        ids = [await _reply(sessions, customer, text) for text in ("bir", "iki", "üç")]
        async with _worker(sessions, {Channel.whatsapp: whatsapp}):
            await until(lambda: _status_is(sessions, ids[-1], "sent"))
        assert twilio.bodies() == ["bir", "bir", "iki", "üç"]

    async def test_outbound_carries_address_and_earlier_provider_ids(self, sessions, ingest_config):
        sender = Scripted()
        customer = await _customer(sessions, ingest_config)
        party = Party(f"whatsapp:{_phone(0)}", AddressKind.phone, True)
        async with transaction(sessions) as session:
            await ingest(session, InboundMessage(Channel.whatsapp, "SMin-later", party, text="?"), config=ingest_config)
        message_id = await _reply(sessions, customer, "cevap")
        async with _worker(sessions, {Channel.whatsapp: sender}):
            await until(lambda: _status_is(sessions, message_id, "sent"))
        [outbound] = sender.sent
        assert (outbound.message_id, outbound.to, outbound.text) == (message_id, _phone(0), "cevap")
        assert outbound.references == ("SMin0", "SMin-later")

    async def test_a_send_that_outlives_the_lease_is_interrupted(self, sessions, ingest_config, whatsapp, twilio):
        twilio.default = "hang"
        message_id = await _reply(sessions, await _customer(sessions, ingest_config), "askıda")
        async with _worker(sessions, {Channel.whatsapp: whatsapp}, lease_seconds=0.3):
            await until(lambda: _status_is(sessions, message_id, "failed"))
        assert (await _load(sessions, message_id)).error == INTERRUPTED
        assert len(twilio.requests) == 1

    async def test_shutdown_mid_send_marks_the_reply_interrupted_at_once(self, sessions, ingest_config, whatsapp,
                                                                         twilio):
        twilio.default = "hang"
        message_id = await _reply(sessions, await _customer(sessions, ingest_config), "kapanış")
        stop = asyncio.Event()
        task = asyncio.create_task(run_worker(sessions, {Channel.whatsapp: whatsapp}, stop=stop,
                                              wake=asyncio.Event(), worker_id="w1", **FAST))
        await twilio.wait_for_requests(1)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        stored = await _load(sessions, message_id)
        assert (stored.delivery_status, stored.error) == ("failed", INTERRUPTED)


class TestRetry:
    async def test_a_failed_reply_is_queued_again_and_sent(self, wired, wake, ingest_config, whatsapp, twilio):
        twilio.enqueue("invalid_to")
        message_id = await _reply(wired, await _customer(wired, ingest_config), "ikinci şans")
        async with _worker(wired, {Channel.whatsapp: whatsapp}, wake=wake, poll_seconds=30):
            await until(lambda: _status_is(wired, message_id, "failed"))
            async with transaction(wired) as session:
                again = await retry(session, message_id)
                assert (again.delivery_status, again.attempts, again.error) == ("queued", 0, None)
            await until(lambda: _status_is(wired, message_id, "sent"), within=3)
        stored = await _load(wired, message_id)
        assert (stored.attempts, stored.provider_id) == (1, twilio.created[0])
        assert len(twilio.requests) == 2

    async def test_only_a_failed_reply_can_be_retried(self, sessions, ingest_config):
        message_id = await _reply(sessions, await _customer(sessions, ingest_config), "bekliyor")
        with pytest.raises(Conflict):
            async with transaction(sessions) as session:
                await retry(session, message_id)


class TestAttachments:
    async def test_files_and_the_messenger_tag_reach_the_adapter(self, sessions, ingest_config, file_store):
        customer_id = await _customer(sessions, ingest_config)
        stored = StoredFile(filename="fatura.pdf", content_type="application/pdf", size=9,
                            sha256=file_store.put(b"%PDF-1.7\n"))
        async with transaction(sessions) as session:
            message = await queue_reply(session, customer_id=customer_id, channel=Channel.whatsapp, text="ekte",
                                        files=[stored], extra={"tag": "HUMAN_AGENT"})
        sender = Scripted()
        policy = Policy(max_attempts=3, lease_seconds=30)
        assert await deliver_next(sessions, {Channel.whatsapp: sender}, worker_id="w1", policy=policy,
                                  files=file_store) == message.id
        [sent] = sender.sent
        assert [(f.filename, f.content_type, f.size) for f in sent.files] == [("fatura.pdf", "application/pdf", 9)]
        assert sent.files[0].path == str(file_store.path_for(stored.sha256))
        assert sent.extra == {"tag": "HUMAN_AGENT"}

    async def test_a_template_reaches_the_adapter_with_its_content_sid_and_variables(self, sessions, ingest_config):
        customer_id = await _customer(sessions, ingest_config)
        async with transaction(sessions) as session:
            template = await templates.save(session, name="kargo", content_sid="HX" + "0" * 32, language="tr",
                                            body="Merhaba {{1}}")
            message = await queue_template(session, customer_id=customer_id, template_id=template.id or 0,
                                           variables={"1": "Ayşe"})
        sender = Scripted()
        await deliver_next(sessions, {Channel.whatsapp: sender}, worker_id="w1",
                           policy=Policy(max_attempts=3, lease_seconds=30))
        [sent] = sender.sent
        assert sent.message_id == message.id and sent.text == "Merhaba Ayşe"
        assert sent.extra == {"template": {"name": "kargo", "content_sid": "HX" + "0" * 32, "variables": {"1": "Ayşe"}}}

    async def test_a_reply_whose_window_closed_while_queued_fails_without_reaching_the_provider(
            self, sessions, ingest_config):
        event = InboundMessage(Channel.whatsapp, "SMlate", Party("whatsapp:+905321230000", AddressKind.phone),
                               text="Merhaba", provider_at=utcnow() - timedelta(hours=30))
        async with transaction(sessions) as session:
            customer_id = (await ingest(session, event, config=ingest_config)).customer_id or 0
            # Written while the window was still open, seven hours ago.
            message = await queue_reply(session, customer_id=customer_id, channel=Channel.whatsapp, text="geç",
                                        now=utcnow() - timedelta(hours=7))
        sender = Scripted()
        await deliver_next(sessions, {Channel.whatsapp: sender}, worker_id="w1",
                           policy=Policy(max_attempts=3, lease_seconds=30))
        failed = await _load(sessions, message.id or 0)
        assert sender.sent == [] and failed.delivery_status == "failed"
        assert (failed.error or "").startswith("the WhatsApp messaging window is closed since")

    async def test_without_the_file_store_a_reply_with_files_fails_instead_of_going_out_bare(
            self, sessions, ingest_config, file_store):
        customer_id = await _customer(sessions, ingest_config)
        stored = StoredFile(filename="a.txt", content_type="text/plain", size=1, sha256=file_store.put(b"a"))
        async with transaction(sessions) as session:
            message = await queue_reply(session, customer_id=customer_id, channel=Channel.whatsapp, text="ekte",
                                        files=[stored])
        sender = Scripted()
        await deliver_next(sessions, {Channel.whatsapp: sender}, worker_id="w1",
                           policy=Policy(max_attempts=3, lease_seconds=30))
        failed = await _load(sessions, message.id or 0)
        assert sender.sent == [] and (failed.delivery_status, failed.error) == ("failed", NO_FILES)


# --- other processes ----------------------------------------------------------------------------


@asynccontextmanager
async def _worker_processes(db_url: str, twilio: TwilioFake, *worker_ids: str,
                            lease_seconds: float = 60) -> AsyncIterator[list[asyncio.subprocess.Process]]:
    """Worker processes on the same database, with the WhatsApp adapter pointed at the fake."""
    env = {**os.environ, "TWILIO_ACCOUNT_SID": ACCOUNT_SID, "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
           "TWILIO_WHATSAPP_FROM": "whatsapp:+14155550100", "TWILIO_API_BASE_URL": twilio.base_url,
           "PUBLIC_BASE_URL": PUBLIC}
    processes = [await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tests.inbox.test_delivery", db_url, worker_id, str(lease_seconds),
        cwd=ROOT, env=env, stdout=asyncio.subprocess.PIPE) for worker_id in worker_ids]
    try:
        for process in processes:
            assert process.stdout is not None
            assert (await asyncio.wait_for(process.stdout.readline(), 30)).strip() == b"ready"
        yield processes
    finally:
        for process in processes:
            if process.returncode is None:
                process.kill()
            await process.wait()


class TestOtherProcesses:
    async def test_a_worker_killed_mid_send_never_sends_twice(self, db_url, sessions, ingest_config, twilio):
        twilio.default = "hang"
        message_id = await _reply(sessions, await _customer(sessions, ingest_config), "tam bir kez")
        async with _worker_processes(db_url, twilio, "doomed") as [doomed]:
            await twilio.wait_for_requests(1, within=30)
            doomed.send_signal(signal.SIGKILL)
            await doomed.wait()
        left = await _load(sessions, message_id)
        assert (left.delivery_status, left.claimed_by, left.attempts) == ("sending", "doomed", 1)

        twilio.default = "created"
        whatsapp = Adapter(_whatsapp_settings(twilio))
        try:
            async with _worker(sessions, {Channel.whatsapp: whatsapp}, worker_id="restarted", lease_seconds=0.3):
                await until(lambda: _status_is(sessions, message_id, "failed", "sent"))
                await asyncio.sleep(0.3)  # time enough for a wrongful second send to show
        finally:
            await whatsapp.aclose()
        stored = await _load(sessions, message_id)
        assert (stored.delivery_status, stored.error) == ("failed", INTERRUPTED)
        assert twilio.bodies() == ["tam bir kez"]

    async def test_two_workers_drain_200_replies_each_sent_once(self, db_url, sessions, ingest_config, twilio):
        twilio.delay = 0.005  # so the two workers overlap
        async with transaction(sessions) as session:
            customers = [(await ingest(session, InboundMessage(
                Channel.whatsapp, f"SMin{index}", Party(f"whatsapp:{_phone(index)}", AddressKind.phone),
                text="Merhaba"), config=ingest_config)).customer_id or 0 for index in range(40)]
        async with _worker_processes(db_url, twilio, "one", "two") as workers:
            async with transaction(sessions) as session:
                for round_ in range(5):
                    for index, customer in enumerate(customers):
                        await queue_reply(session, customer_id=customer, channel=Channel.whatsapp,
                                          text=f"reply {index}.{round_}")

            async def drained() -> bool:
                await asyncio.sleep(0.1)  # each look takes SQLite's write lock: look rarely
                async with sessions() as session:
                    statuses = (await session.execute(
                        select(col(Message.delivery_status)).where(col(Message.direction) == "outbound")
                    )).scalars().all()
                return statuses.count("sent") == 200 or "failed" in statuses

            await until(drained, within=60)
            for process in workers:
                process.send_signal(signal.SIGTERM)
            assert [await asyncio.wait_for(process.wait(), 10) for process in workers] == [0, 0]
        async with sessions() as session:
            rows = (await session.execute(
                select(col(Message.delivery_status), col(Message.provider_id), col(Message.claimed_by))
                .where(col(Message.direction) == "outbound"))).all()
        assert Counter(status for status, _, _ in rows) == {"sent": 200}
        assert sorted(provider_id for _, provider_id, _ in rows) == sorted(twilio.created)
        assert len(twilio.requests) == 200 and set(Counter(twilio.bodies()).values()) == {1}
        assert {worker for _, _, worker in rows} == {"one", "two"}


def test_the_registry_adapter_is_a_sender() -> None:
    # The registry's adapter is what the app hands run_worker: it must satisfy the Sender port.
    sender: Sender = adapter_for(Channel.whatsapp)
    assert sender.channel == Channel.whatsapp


async def _run_as_worker_process(db_url: str, worker_id: str, lease_seconds: float) -> None:
    engine = make_engine(db_url)
    sessions = make_sessionmaker(engine)
    whatsapp = adapter_for(Channel.whatsapp)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    print("ready", flush=True)
    try:
        await run_worker(sessions, {Channel.whatsapp: whatsapp}, stop=stop, wake=asyncio.Event(),
                         worker_id=worker_id, max_attempts=3, lease_seconds=lease_seconds, backoff_base=0.05,
                         backoff_cap=0.2, poll_seconds=0.05)
    finally:
        await whatsapp.aclose()  # type: ignore[attr-defined]
        await engine.dispose()


if __name__ == "__main__":
    url, worker, lease = sys.argv[1:4]
    asyncio.run(_run_as_worker_process(url, worker, float(lease)))
