"""The composition root: wires the database, the live hub, the adapters and the workers."""

import asyncio
import contextlib
import gc
import logging
import os
import secrets
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.types import Receive, Scope, Send

from adapters import REGISTRY, webchat
from adapters.base import Adapter, MediaSource, NamesSenders
from adapters.email import Adapter as EmailAdapter
from adapters.shopify import Adapter as ShopifyAdapter
from inbox import __version__
from inbox.channels import Channel
from inbox.config import CoreSettings
from inbox.customers.names import NameLookups
from inbox.db import make_engine, make_sessionmaker
from inbox.delivery import run_worker
from inbox.files import FileStore
from inbox.ingest import IngestConfig
from inbox.ingest_queue import IngestWriter
from inbox.media import run_fetcher
from inbox.realtime import make_hub
from inbox.signing import secret_key
from inbox.threads.snooze import run_waker
from web import errors
from web.body_limit import BodyLimit, Limit
from web.email_intake import EmailIntake
from web.file_links import FileLinks
from web.presence import Presence
from web.routes import (
    account,
    admin,
    api,
    calls,
    composer,
    customer_profile,
    customer_record,
    inbox_actions,
    live,
    mail,
    search,
    shopify,
    signed_files,
    store,
    ui,
    webhooks,
    widget,
    widget_socket,
)
from web.security_headers import SecurityHeaders
from web.server_timing import ServerTiming
from web.ui.security import may_attach

log = logging.getLogger("onethread")

# Longer than any provider's send timeout (Twilio's is 30 s).
SHUTDOWN_GRACE_SECONDS = 35
# An upload's multipart boundaries and part headers, beside the file itself.
MULTIPART_OVERHEAD = 16 * 1024
# Files an agent attaches to one reply, at most MAX_ATTACHMENT_BYTES each.
COMPOSER_FILES = 10


def _settle_collector() -> None:
    # Once per process: an app made again (the tests make hundreds) must not freeze what the
    # earlier ones left for the collector.
    if gc.get_freeze_count() == 0:
        gc.collect()
        gc.freeze()
        gc.set_threshold(700, 10, 100)


class App(FastAPI):
    ingress: webhooks.WebhookIngress

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # Provider webhooks skip FastAPI's middleware and router (see web.routes.webhooks).
        if self.ingress.serves(scope):
            await self.ingress(scope, receive, send)
            return
        await super().__call__(scope, receive, send)


def create_app(settings: CoreSettings | None = None, *, take_mail: bool = True, workers: bool = True,
               demo: bool = False) -> App:
    """The whole server. Several processes may share one PostgreSQL and Redis (docs/deploy.md); any of
    them can leave out taking mail (SMTP listener, IMAP poller) or running the background workers
    (delivery, media fetching, snooze wake-ups), which the others then do. `demo` (onethread serve
    --demo) lets /demo/shop sign in a shopper, playing the shop's backend."""
    settings = settings or CoreSettings()

    def publish(topic: str, frame: dict[str, Any]) -> None:
        # The hub exists once the lifespan has started, before the delivery worker sends anything.
        app.state.hub.publish({"topic": topic, "frame": frame})

    adapters = load_adapters(publish=publish)
    if demo:
        _demo_identity_secret(adapters)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = make_engine(settings.resolved_database_url)
        hub = make_hub(settings.redis_url)
        await hub.start()
        wake, wake_media = asyncio.Event(), asyncio.Event()
        sessions = make_sessionmaker(engine, hub=hub, wake_delivery=wake.set, wake_media=wake_media.set)
        files = FileStore(settings.attachments_dir, max_bytes=settings.max_attachment_bytes)
        config = IngestConfig(region=settings.default_phone_region, files=files,
                              link_secret=settings.link_secret.get_secret_value())
        writer = IngestWriter(sessions, config)
        await writer.start()
        # Every process that takes webhooks names their senders: the lookup follows its own commit.
        names = app.state.name_lookups = NameLookups(sessions, {
            a.channel: a.sender_name for a in adapters if a.configured and isinstance(a, NamesSenders)})
        await names.start()
        intake = next((EmailIntake(a, writer=writer, sessions=sessions, config=config)
                       for a in adapters if isinstance(a, EmailAdapter)), None) if take_mail else None
        app.state.email_intake = intake
        app.state.settings, app.state.sessions, app.state.hub = settings, sessions, hub
        app.state.files, app.state.ingest_writer, app.state.wake_delivery = files, writer, wake
        stop = asyncio.Event()
        key = secret_key(settings.secret_key, settings.data_dir)
        # Links verify without a public address; only providers that fetch files need one to be given them.
        links = FileLinks(settings.public_base_url, key)
        app.state.file_links, app.state.secret = links, key
        presence = app.state.presence = Presence(sessions)
        await presence.start()
        running: list[asyncio.Task[None]] = []
        if workers:
            running = start_workers(settings, sessions, adapters, stop=stop, wake=wake, files=files,
                                    links=links if settings.public_base_url else None)
            running.append(asyncio.create_task(
                run_fetcher(sessions, {a.channel: a for a in adapters if a.configured and isinstance(a, MediaSource)},
                            files, stop=stop, wake=wake_media), name="media-worker"))
        try:
            if intake is not None:
                # Last: by the time a sender hears 250, everything behind it is running.
                await intake.start()
            # What startup made (modules, classes, the app and its routes: most of the process's
            # objects) lives until exit: frozen, the cyclic collector stops walking it. And a full
            # collection only every 100 of the middle generation's instead of every 10: each full
            # one holds the event loop for ~100-150 ms here, which was the web chat's whole latency
            # tail (bench/widget.py: p99 230-360 ms before, 47-92 ms after, over 60 s at 20 msg/s).
            _settle_collector()
            yield
        finally:
            stop.set()
            wake.set()
            wake_media.set()
            if intake is not None:
                await intake.stop()
            # Before the adapters close the HTTP clients the lookups use.
            await names.stop()
            await stop_workers(running, adapters)
            await presence.stop()
            await writer.stop()
            await hub.stop()
            await engine.dispose()

    app = App(title="onethread", version=__version__, lifespan=lifespan,
              description="One conversation thread per customer, across every channel.")
    app.state.adapters, app.state.demo = adapters, demo
    app.state.shopify = ShopifyAdapter()
    errors.install(app)
    chat = next(adapter for adapter in adapters if isinstance(adapter, webchat.Adapter))
    # Innermost, so its 413 still carries the security headers and the timing.
    app.add_middleware(BodyLimit, default=settings.max_request_bytes, limits=[
        Limit("/widget/uploads", chat.settings.max_upload_bytes + MULTIPART_OVERHEAD),
        # Anyone else gets the default limit, and then the sign-in page.
        Limit(r"/inbox/threads/\d+/messages", settings.max_attachment_bytes * COMPOSER_FILES + MULTIPART_OVERHEAD,
              admits=may_attach)])
    app.add_middleware(SecurityHeaders)
    # Outermost, so the figure covers routing, dependencies and error handling too.
    app.add_middleware(ServerTiming)
    app.ingress = webhooks.WebhookIngress(adapters, limit=settings.max_request_bytes, state=app.state)
    app.include_router(app.ingress.router())
    app.include_router(shopify.router)
    app.include_router(api.health)
    app.include_router(api.router)
    app.include_router(ui.router)
    app.include_router(admin.router)
    app.include_router(account.router)
    app.include_router(composer.router)
    app.include_router(inbox_actions.router)
    app.include_router(customer_profile.router)
    app.include_router(customer_record.router)
    app.include_router(mail.router)
    app.include_router(search.router)
    app.include_router(live.router)
    app.include_router(widget.router)
    app.include_router(widget_socket.router)
    app.include_router(store.router)
    app.include_router(calls.router)
    app.include_router(signed_files.router)
    app.mount("/static", StaticFiles(directory=Path(__file__).resolve().parent / "static"), name="static")
    return app


def load_adapters(*, publish: webchat.Publish | None = None) -> list[Adapter]:
    # The web chat is the one channel that sends through something of ours: the live hub.
    return [webchat.Adapter(publish=publish) if channel == Channel.webchat else adapter_class()
            for channel, adapter_class in REGISTRY.items()]


def _demo_identity_secret(adapters: list[Adapter]) -> None:
    chat = next(adapter for adapter in adapters if isinstance(adapter, webchat.Adapter))
    if not chat.identifies_shoppers:
        # Made up for this run: the demo shop signs its pretend shopper as a shop's backend would.
        chat.settings.identity_secret = SecretStr(secrets.token_hex(16))


def start_workers(settings: CoreSettings, sessions: async_sessionmaker[AsyncSession], adapters: list[Adapter], *,
                  stop: asyncio.Event, wake: asyncio.Event, files: FileStore | None = None,
                  links: FileLinks | None = None) -> list[asyncio.Task[None]]:
    senders = {adapter.channel: adapter for adapter in adapters if adapter.configured}
    worker = run_worker(sessions, senders, stop=stop, wake=wake,
                        worker_id=f"{socket.gethostname()}:{os.getpid()}"[:80],
                        max_attempts=settings.delivery_max_attempts, lease_seconds=settings.delivery_lease_seconds,
                        backoff_base=settings.delivery_backoff_seconds,
                        files=files, file_url=links.url_for if links else None)
    return [asyncio.create_task(worker, name="delivery-worker"),
            asyncio.create_task(run_waker(sessions, stop=stop), name="snooze-waker")]


async def stop_workers(workers: list[asyncio.Task[None]], adapters: list[Adapter]) -> None:
    # Let an in-flight send finish: a send cancelled midway can only be marked "interrupted".
    for task in workers:
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await asyncio.wait_for(task, SHUTDOWN_GRACE_SECONDS)
    for adapter in adapters:
        close = getattr(adapter, "aclose", None)
        if close is not None:
            await close()
