"""A customer's whole record as one zip: customer.json and every attachment's file (KVKK/GDPR access).

Written into a file on disk as it is read, a page of messages at a time, so a customer with years
of history never sits in memory; the caller sends the file and deletes it.
"""

import asyncio
import contextlib
import json
import os
import re
import tempfile
import time
import zipfile
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import IO, Any

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import SQLModel, col

from inbox import audit
from inbox.customers.models import Customer, Identity, Merge, MergeSuggestion
from inbox.customers.record import Group, group_of
from inbox.db import utcnow
from inbox.files import FileStore
from inbox.messages.models import Attachment, Message
from inbox.orders.models import Order, OrderLine
from inbox.preferences.models import Consent, Preference
from inbox.threads.models import Case, Thread
from inbox.visitors.models import Visitor

FORMAT = "onethread.customer-export/1"
# Messages (and their attachments) per query and per write.
_PAGE = 500
_UNSAFE = re.compile(r"[^\w.\- ]+")
# An export left behind by a download cut short is deleted by the next export after this long.
STALE_AFTER = timedelta(hours=1)


@dataclass(frozen=True, slots=True)
class Exported:
    path: Path
    filename: str
    messages: int
    attachments: int


async def export(session: AsyncSession, customer_id: int, *, files: FileStore, into: Path, actor: str) -> Exported:
    """Write the zip into the directory `into` and record who asked; the caller deletes the file."""
    group = await group_of(session, customer_id)
    path = await asyncio.to_thread(_new_file, into, f"customer-{group.survivor_id}-")
    try:
        with path.open("wb") as handle, zipfile.ZipFile(handle, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            with archive.open("customer.json", "w", force_zip64=True) as out:
                messages = await _write_json(session, group, out)
            attachments = 0
            async for attachment in _attachments(session, group):
                stored = _stored_path(files, attachment)
                if stored is not None:
                    # Copying a large file would hold up every other request on this event loop.
                    await asyncio.to_thread(archive.write, stored, file_name(attachment))
                    attachments += 1
    except BaseException:
        await asyncio.to_thread(path.unlink, missing_ok=True)
        raise
    await audit.record(session, actor=actor, action="customer.exported", subject_type="customer",
                       subject_id=group.survivor_id,
                       data={"customer_ids": group.customer_ids, "messages": messages, "files": attachments})
    return Exported(path, f"customer-{group.survivor_id}.zip", messages, attachments)


def _new_file(into: Path, prefix: str) -> Path:
    into.mkdir(parents=True, exist_ok=True)
    # A download that never finished never deleted its file: one still here after an hour goes now.
    for stale in into.glob("customer-*.zip"):
        with contextlib.suppress(FileNotFoundError):
            if time.time() - stale.stat().st_mtime > STALE_AFTER.total_seconds():
                stale.unlink()
    # Only the owner may read it: it holds a person's whole record until it is sent.
    handle, name = tempfile.mkstemp(dir=into, prefix=prefix, suffix=".zip")
    os.close(handle)
    return Path(name)


def file_name(attachment: Attachment) -> str:
    """Where the attachment's file is in the zip: its id keeps two "photo.jpg" apart."""
    safe = _UNSAFE.sub("_", attachment.filename).strip(". ")[:120] or "file"
    return f"attachments/{attachment.id}-{safe}"


async def _write_json(session: AsyncSession, group: Group, out: IO[bytes]) -> int:
    """customer.json, written piece by piece; returns how many messages it holds."""
    members = group.customer_ids
    customers = await _rows(session, select(Customer).where(col(Customer.id).in_(members)).order_by(col(Customer.id)))
    survivor = next(row for row in customers if row["id"] == group.survivor_id)
    orders = (await session.execute(
        select(Order).where(col(Order.customer_id).in_(members)).order_by(col(Order.id)))).scalars().all()
    lines = await _rows(session, select(OrderLine).where(col(OrderLine.order_id).in_([o.id for o in orders]))
                        .order_by(col(OrderLine.id)))
    head: dict[str, Any] = {
        "format": FORMAT,
        "exported_at": utcnow(),
        "customer": survivor,
        # Customers merged into this one: their own rows, which a merge leaves in place.
        "absorbed_customers": [row for row in customers if row["id"] != group.survivor_id],
        "identities": await _rows(session, select(Identity).where(col(Identity.customer_id).in_(members))
                                  .order_by(col(Identity.id))),
        "threads": await _threads(session, group),
        "orders": [{**_plain(order), "lines": [line for line in lines if line["order_id"] == order.id]}
                   for order in orders],
        "preferences": await _rows(session, select(Preference).where(col(Preference.customer_id).in_(members))
                                   .order_by(col(Preference.id))),
        "consents": await _rows(session, select(Consent).where(col(Consent.customer_id).in_(members))
                                .order_by(col(Consent.id))),
        "merges": await _rows(session, select(Merge).where(or_(
            col(Merge.survivor_id).in_(members), col(Merge.absorbed_id).in_(members))).order_by(col(Merge.id))),
        "merge_suggestions": await _rows(session, select(MergeSuggestion).where(or_(
            col(MergeSuggestion.customer_id).in_(members), col(MergeSuggestion.other_id).in_(members)))
            .order_by(col(MergeSuggestion.id))),
        "web_chat_visitors": await _visitors(session, members),
    }
    opening = _dumps(head)
    out.write(opening[:-1].encode() + b', "messages": [')
    count = 0
    async for batch in _message_pages(session, group):
        found: dict[int, list[Attachment]] = {}
        for attachment in (await session.execute(
                select(Attachment).where(col(Attachment.message_id).in_([m.id for m in batch]))
                .order_by(col(Attachment.id)))).scalars():
            found.setdefault(attachment.message_id, []).append(attachment)
        for message in batch:
            entry = {**_plain(message), "attachments": [
                {**_plain(a), "file": file_name(a) if a.sha256 else None} for a in found.get(message.id or 0, [])]}
            out.write((", " if count else "").encode() + _dumps(entry).encode())
            count += 1
    out.write(b"]}")
    return count


async def _threads(session: AsyncSession, group: Group) -> list[dict[str, Any]]:
    threads = await _rows(session, select(Thread).where(col(Thread.id).in_(group.thread_ids)).order_by(col(Thread.id)))
    cases = await _rows(session, select(Case).where(col(Case.thread_id).in_(group.thread_ids)).order_by(col(Case.id)))
    return [{**thread, "cases": [case for case in cases if case["thread_id"] == thread["id"]]} for thread in threads]


async def _visitors(session: AsyncSession, members: Sequence[int]) -> list[dict[str, Any]]:
    """The browsers that chatted from the customer's addresses; without their key (half of the
    browser's credential) and the keyed hash of their network address (it identifies nobody)."""
    addresses = select(col(Identity.address)).where(col(Identity.customer_id).in_(members))
    rows = await _rows(session, select(Visitor).where(col(Visitor.address).in_(addresses)).order_by(col(Visitor.id)))
    return [{key: value for key, value in row.items() if key not in ("key", "client")} for row in rows]


async def _message_pages(session: AsyncSession, group: Group) -> AsyncIterator[Sequence[Message]]:
    after = 0
    while True:
        batch = (await session.execute(
            select(Message).where(col(Message.thread_id).in_(group.thread_ids), col(Message.id) > after)
            .order_by(col(Message.id)).limit(_PAGE))).scalars().all()
        if not batch:
            return
        yield batch
        # The session's identity map holds rows weakly: pages already written are let go.
        after = batch[-1].id or 0


async def _attachments(session: AsyncSession, group: Group) -> AsyncIterator[Attachment]:
    after = 0
    while True:
        batch = (await session.execute(
            select(Attachment).join(Message, col(Message.id) == col(Attachment.message_id))
            .where(col(Message.thread_id).in_(group.thread_ids), col(Attachment.id) > after)
            .order_by(col(Attachment.id)).limit(_PAGE))).scalars().all()
        for attachment in batch:
            yield attachment
        if len(batch) < _PAGE:
            return
        after = batch[-1].id or 0


def _stored_path(files: FileStore, attachment: Attachment) -> Path | None:
    if attachment.sha256 is None:
        return None
    path = files.path_for(attachment.sha256)
    return path if path.is_file() else None


async def _rows(session: AsyncSession, query: Any) -> list[dict[str, Any]]:
    return [_plain(row) for row in (await session.execute(query)).scalars().all()]


def _plain(row: SQLModel) -> dict[str, Any]:
    return {column.name: getattr(row, column.name) for column in row.__table__.columns}  # type: ignore[attr-defined]


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=_json_default)


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"cannot export {type(value).__name__}")
