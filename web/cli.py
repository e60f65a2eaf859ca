"""The onethread command: serve everything in one process, migrate, seed the demo, make users and tokens,
import the shop's orders and customers."""

import asyncio
import sqlite3
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, tzinfo
from pathlib import Path
from typing import Annotated, NoReturn, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import typer
import uvicorn
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from inbox import __version__
from inbox import backup as backup_files
from inbox.agents import service as agents
from inbox.agents.models import Role
from inbox.config import CoreSettings
from inbox.db import is_sqlite, make_engine, make_sessionmaker, transaction
from inbox.demo import DemoSummary, seed
from inbox.errors import DomainError
from inbox.files import FileStore
from inbox.imports.table import Summary
from inbox.migrate import upgrade

T = TypeVar("T")

app = typer.Typer(name="onethread", help="One conversation thread per customer, across every channel.",
                  no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)
# soft_wrap: a URL or token split over two lines cannot be copied.
out = Console(soft_wrap=True, highlight=False)
err = Console(stderr=True, soft_wrap=True, highlight=False)


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on; 0.0.0.0 for every interface.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    demo: Annotated[bool, typer.Option("--demo", help="Seed the demo shop first (once).")] = False,
    mail: Annotated[bool, typer.Option(
        help="Take mail here: the SMTP listener and IMAP polling. With several processes on one host, "
             "one listens and the others --no-mail.")] = True,
    workers: Annotated[bool, typer.Option(
        help="Run the delivery, media and snooze workers here. Replies queued by a --no-workers process are "
             "sent by another process's worker within 10 s.")] = True,
) -> None:
    """Migrate the database, then serve the inbox, webhooks, API and workers in this one process."""
    from web.app import create_app  # the whole web stack, only for the command that serves it

    settings = _settings()
    with _errors_as_messages(settings):
        upgrade(settings.resolved_database_url)
        summary = _seed(settings) if demo else None
    url = _public_url(host, port)
    if summary is not None:
        _print_seeded(summary)
    out.print(f"[bold green]onethread {__version__}[/] is starting at [bold]{url}[/] (API docs: {url}/docs)")
    if summary is not None:
        _print_sign_in(summary)
    uvicorn.run(create_app(settings, take_mail=mail, workers=workers, demo=demo), host=host, port=port,
                log_level="info")


@app.command()
def migrate() -> None:
    """Bring the database schema up to date (safe to run at any time)."""
    settings = _settings()
    with _errors_as_messages(settings):
        upgrade(settings.resolved_database_url)
    out.print(f"[green]✓[/] The database at {_safe_url(settings)} is up to date.")


@app.command()
def demo(
    host: Annotated[str, typer.Option(help="Host `serve` will listen on, for the printed URL.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port `serve` will listen on, for the printed URL.")] = 8000,
) -> None:
    """Migrate, then seed the demo shop: customers on every channel, orders, agents. Runs once."""
    settings = _settings()
    with _errors_as_messages(settings):
        upgrade(settings.resolved_database_url)
        summary = _seed(settings)
    url = _public_url(host, port)
    _print_seeded(summary)
    out.print(f"Start it with [bold]onethread serve[/], then open [bold]{url}[/] (API docs: {url}/docs).")
    _print_sign_in(summary)


@app.command("create-user")
def create_user(
    email: Annotated[str, typer.Option(help="Sign-in email address.")],
    password: Annotated[str, typer.Option(
        prompt=True, hide_input=True, confirmation_prompt=True,
        help="Omit to be asked for it: a password on the command line is visible to others on this machine.",
    )],
    role: Annotated[Role, typer.Option(case_sensitive=False, help="What the user may do.")] = Role.agent,
    name: Annotated[str, typer.Option(help="Name shown to colleagues; defaults to the email's local part.")] = "",
) -> None:
    """Add a user who signs in with email and password."""
    settings = _settings()

    async def create(sessions: async_sessionmaker[AsyncSession]) -> tuple[int, str]:
        async with transaction(sessions) as session:
            user = await agents.create_user(session, email=email, password=password, name=name, role=role)
            return user.id or 0, user.email

    with _errors_as_messages(settings):
        upgrade(settings.resolved_database_url)
        user_id, address = _with_sessions(settings, create)
    out.print(f"[green]✓[/] Created {role} [bold]{address}[/] (user {user_id}).")


@app.command("create-token")
def create_token(
    name: Annotated[str, typer.Option(help="What the token is for, e.g. shopify-sync.")],
) -> None:
    """Issue an API bearer token. It is printed once, as the last line, and only its hash is kept."""
    settings = _settings()

    async def issue(sessions: async_sessionmaker[AsyncSession]) -> str:
        async with transaction(sessions) as session:
            return await agents.issue_token(session, name=name)

    with _errors_as_messages(settings):
        upgrade(settings.resolved_database_url)
        token = _with_sessions(settings, issue)
    out.print(f"[green]✓[/] API token [bold]{name.strip()}[/] created. It is shown only now; store it safely:")
    # Plain, alone and last, so scripts can take it with `tail -n 1`.
    print(token)


channels_app = typer.Typer(help="The messaging channels this server is configured for.", no_args_is_help=True)
app.add_typer(channels_app, name="channels")


@channels_app.command("check")
def channels_check() -> None:
    """Try each configured channel's credentials against its provider's API; exit 1 if any fails."""
    from adapters import REGISTRY
    from adapters.base import CheckFailed

    async def check_all() -> bool:
        healthy = True
        for channel, build in REGISTRY.items():
            adapter = build()
            try:
                if not adapter.configured:
                    out.print(f"[dim]–[/] {channel}: not configured")
                    continue
                out.print(f"[green]✓[/] {channel}: {await adapter.check()}")
            except CheckFailed as error:
                healthy = False
                out.print(f"[red]✗[/] {channel}: {error}")
            finally:
                await adapter.aclose()
        return healthy

    if not asyncio.run(check_all()):
        raise typer.Exit(1)


telegram_app = typer.Typer(help="Telegram: register the webhook; make links that join a chat to a customer.",
                           no_args_is_help=True)
app.add_typer(telegram_app, name="telegram")


@telegram_app.command("set-webhook")
def telegram_set_webhook() -> None:
    """Have Telegram deliver updates to PUBLIC_BASE_URL/webhooks/telegram, sending TELEGRAM_WEBHOOK_SECRET."""
    from adapters.base import CheckFailed
    from adapters.telegram import Adapter

    async def register() -> tuple[str, str, int, str | None]:
        adapter = Adapter()
        try:
            info = await adapter.set_webhook()
        finally:
            await adapter.aclose()
        return info.url, ", ".join(info.allowed_updates or ()), info.pending_update_count, info.last_error_message

    try:
        url, updates, pending, last_error = asyncio.run(register())
    except CheckFailed as error:
        _fail(str(error))
    out.print(f"[green]✓[/] Telegram delivers to [bold]{url}[/] ({updates}); {pending} update(s) waiting.")
    if last_error:
        out.print(f"[yellow]![/] Telegram's last delivery error: {last_error}")


@telegram_app.command("link")
def telegram_link(
    customer_id: Annotated[int, typer.Argument(help="The customer the chat should join.")],
) -> None:
    """Print a t.me link for this customer: when they open it, their Telegram chat joins their thread."""
    from adapters.base import CheckFailed
    from adapters.telegram import Adapter
    from inbox.customers import links
    from inbox.customers import service as customers

    settings = _settings()
    secret = settings.link_secret.get_secret_value()
    if not secret:
        _fail("LINK_SECRET is not set: the server signs links with it, so set the same value for both")

    async def find(sessions: async_sessionmaker[AsyncSession]) -> tuple[int, str]:
        async with transaction(sessions) as session:
            customer = await customers.get(session, customer_id)
            return customer.id or 0, customer.name

    async def bot_username() -> str:
        adapter = Adapter()
        try:
            return await adapter.username()
        finally:
            await adapter.aclose()

    with _errors_as_messages(settings):
        upgrade(settings.resolved_database_url)
        found_id, name = _with_sessions(settings, find)
    try:
        username = asyncio.run(bot_username())
    except CheckFailed as error:
        _fail(f"cannot learn the bot's name (set TELEGRAM_BOT_USERNAME or TELEGRAM_BOT_TOKEN): {error}")
    out.print(f"Telegram link for [bold]{name or f'customer {found_id}'}[/] (customer {found_id}):")
    # Plain, alone and last, so scripts can take it with `tail -n 1`.
    print(f"https://t.me/{username}?start={links.sign(found_id, secret=secret)}")


import_app = typer.Typer(help="Bring the shop's orders or customers in from a CSV file (docs/orders.md).",
                         no_args_is_help=True)
app.add_typer(import_app, name="import")

CsvFile = Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True,
                                         help="The CSV file: UTF-8 (with or without Excel's BOM) or Windows-1254.")]
Delimiter = Annotated[str | None, typer.Option(
    help="The column separator: ',', ';' or 'tab'. Default: whichever of them the header line uses most.")]


@import_app.command("orders")
def import_orders(
    file: CsvFile,
    delimiter: Delimiter = None,
    timezone: Annotated[str, typer.Option(
        help="The zone of times written without an offset, e.g. Europe/Istanbul.")] = "UTC",
) -> None:
    """Create or update an order per row; the same file again changes nothing. Exit 1 if a row was rejected."""
    from inbox.imports.orders import import_orders as run

    zone = _zone(timezone)
    settings = _settings()
    _import(settings, file, lambda sessions, data, progress: run(
        sessions, data, region=settings.default_phone_region, zone=zone, delimiter=_delimiter(delimiter),
        progress=progress))


@import_app.command("customers")
def import_customers(file: CsvFile, delimiter: Delimiter = None) -> None:
    """Create or update a customer per row, with pref.* and consent.* columns; exit 1 if a row was rejected."""
    from inbox.imports.customers import import_customers as run

    settings = _settings()
    _import(settings, file, lambda sessions, data, progress: run(
        sessions, data, region=settings.default_phone_region, delimiter=_delimiter(delimiter), progress=progress))


def _import(settings: CoreSettings, file: Path, run: Callable[
        [async_sessionmaker[AsyncSession], bytes, Callable[[int, int], None]], Awaitable[Summary]]) -> None:
    data = file.read_bytes()
    with _errors_as_messages(settings):
        upgrade(settings.resolved_database_url)
        with _progress() as progress:
            rows = progress.add_task("rows", total=None)
            summary = _with_sessions(settings, lambda sessions: run(
                sessions, data, lambda done, total: progress.update(rows, completed=done, total=total)))
    out.print(f"[green]✓[/] {escape(file.name)}: {summary.created} created, {summary.updated} updated, "
              f"{summary.unchanged} unchanged, {len(summary.rejected)} rejected")
    for rejected in summary.rejected:
        out.print(f"  line {rejected.line}: {escape(rejected.reason)}")
    if summary.rejected:
        raise typer.Exit(1)


def _delimiter(given: str | None) -> str | None:
    if given is None:
        return None
    chosen = "\t" if given.lower() in ("tab", "\\t") else given
    if len(chosen) != 1:
        _fail(f"--delimiter takes one character (or 'tab'), not {given!r}")
    return chosen


def _zone(name: str) -> tzinfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        _fail(f"unknown time zone {name!r}: write it as Europe/Istanbul, UTC, …")


@app.command()
def backup(
    folder: Annotated[Path | None, typer.Argument(
        help="Where to write it; default DATA_DIR/backups/<date-time>. Reuse a folder to copy only new files.")] = None,
) -> None:
    """Back up the database and the attachments while the server runs (SQLite); on PostgreSQL, the attachments."""
    settings = _settings()
    target = folder or settings.data_dir / "backups" / datetime.now().strftime("%Y-%m-%d-%H%M%S")
    target.mkdir(parents=True, exist_ok=True)
    database = settings.resolved_database_url
    with _errors_as_messages(settings), _progress() as progress:
        if is_sqlite(database):
            pages = progress.add_task("database", total=None)
            copied_pages = backup_files.copy_database(
                _sqlite_path(database), target / backup_files.DATABASE_FILE,
                progress=lambda done, total: progress.update(pages, completed=done, total=total))
        files = progress.add_task("attachments", total=None)
        copied, kept = backup_files.copy_files(
            settings.attachments_dir, target / backup_files.ATTACHMENTS_DIR,
            progress=lambda done, total: progress.update(files, completed=done, total=total))
    if is_sqlite(database):
        out.print(f"[green]✓[/] Database: {copied_pages:,} pages → {target / backup_files.DATABASE_FILE}")
    out.print(f"[green]✓[/] Attachments: {copied:,} copied, {kept:,} already there → "
              f"{target / backup_files.ATTACHMENTS_DIR}")
    if not is_sqlite(database):
        out.print("[yellow]![/] The database is PostgreSQL: back it up with its own tool, e.g.")
        out.print(f"  pg_dump --format=custom --file={target / 'onethread.dump'} '{_plain_url(settings)}'")


@app.command()
def restore(
    folder: Annotated[Path, typer.Argument(help="A folder `onethread backup` wrote.")],
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask before replacing the database.")] = False,
) -> None:
    """Put a backup back: the database (SQLite) and the attachments. Stop every onethread process first."""
    settings = _settings()
    database = settings.resolved_database_url
    try:
        backup_files.check_backup(folder, database=is_sqlite(database))
    except backup_files.NoBackupHere as error:
        _fail(str(error))
    if is_sqlite(database) and not yes:
        typer.confirm(f"Replace the database at {_sqlite_path(database)} with the backup's?", abort=True)
    with _errors_as_messages(settings), _progress() as progress:
        if is_sqlite(database):
            pages = progress.add_task("database", total=None)
            backup_files.copy_database(folder / backup_files.DATABASE_FILE, _sqlite_path(database),
                                       progress=lambda done, total: progress.update(pages, completed=done, total=total))
        files = progress.add_task("attachments", total=None)
        copied, kept = backup_files.copy_files(
            folder / backup_files.ATTACHMENTS_DIR, settings.attachments_dir,
            progress=lambda done, total: progress.update(files, completed=done, total=total))
        # A backup from an older version is brought up to this one's schema.
        upgrade(database)
    if is_sqlite(database):
        out.print(f"[green]✓[/] Database restored to {_sqlite_path(database)} and migrated to this version.")
    else:
        out.print("[yellow]![/] The database is PostgreSQL: restore it with its own tool, e.g.")
        out.print(f"  pg_restore --clean --if-exists --dbname='{_plain_url(settings)}' {folder / 'onethread.dump'}")
    out.print(f"[green]✓[/] Attachments: {copied:,} copied, {kept:,} already there.")


@app.command()
def version() -> None:
    """Print the installed version."""
    print(f"onethread {__version__}")


def _settings() -> CoreSettings:
    settings = CoreSettings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return settings


def _with_sessions(settings: CoreSettings, work: Callable[[async_sessionmaker[AsyncSession]], Awaitable[T]]) -> T:
    async def run() -> T:
        engine = make_engine(settings.resolved_database_url)
        try:
            return await work(make_sessionmaker(engine))
        finally:
            await engine.dispose()

    return asyncio.run(run())


def _seed(settings: CoreSettings) -> DemoSummary:
    files = FileStore(settings.attachments_dir, max_bytes=settings.max_attachment_bytes)
    return _with_sessions(settings, lambda sessions: seed(sessions, region=settings.default_phone_region, files=files))


def _print_seeded(summary: DemoSummary) -> None:
    if summary.already_seeded:
        out.print("The demo shop was already seeded; nothing was added.")
    else:
        out.print(f"[green]✓[/] Seeded the demo shop: {summary.customers} customers, {summary.messages} messages, "
                  f"{summary.orders} orders.")


def _print_sign_in(summary: DemoSummary) -> None:
    out.print(f"Demo sign-in (password [bold]{summary.password}[/]):")
    for email, role in summary.users:
        out.print(f"  {role:<6} {email}")


def _public_url(host: str, port: int) -> str:
    # Listening on every interface still answers on loopback; that is the address to click.
    shown = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
    return f"http://{f'[{shown}]' if ':' in shown else shown}:{port}"


def _sqlite_path(url: str) -> Path:
    return Path(make_url(url).database or "")


def _plain_url(settings: CoreSettings) -> str:
    # What pg_dump understands: no SQLAlchemy driver name, and no password on screen.
    return _safe_url(settings).replace("postgresql+asyncpg://", "postgresql://")


@contextmanager
def _progress() -> Iterator[Progress]:
    with Progress(TextColumn("{task.description:<12}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=out, transient=True) as progress:
        yield progress


def _safe_url(settings: CoreSettings) -> str:
    return make_url(settings.resolved_database_url).render_as_string(hide_password=True)


def _fail(message: str) -> NoReturn:
    err.print(f"[bold red]error:[/] {message}")
    raise typer.Exit(1)


@contextmanager
def _errors_as_messages(settings: CoreSettings) -> Iterator[None]:
    """What a person can act on, as one line on stderr and exit status 1; no traceback."""
    try:
        yield
    except DomainError as error:
        _fail(str(error))
    except (SQLAlchemyError, OSError, sqlite3.Error) as error:
        reason = str(getattr(error, "orig", None) or error).splitlines()[0]
        _fail(f"cannot use the database at {_safe_url(settings)}: {reason}")


if __name__ == "__main__":
    app()
