"""Erasing a customer (KVKK/GDPR): everything personal goes, in one transaction; files after commit.

What stays is what the shop must keep or what says nothing about the person: the customer row as a
blank tombstone (its id is what the kept orders and cases hang on), its thread emptied and
resolved, the cases (times and assignees, for the shop's statistics), the orders with their
numbers, totals and lines (accounting) but no tracking link, merge records (ids only) and the
audit trail, scrubbed of the values it quoted. A new message from one of the erased addresses
finds no identity, so it starts a new customer: nothing joins them back.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Text, cast, delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from inbox import audit
from inbox.audit import AuditEvent
from inbox.customers import service as customers
from inbox.customers.models import Customer, Identity, MergeSuggestion
from inbox.customers.record import Group, group_of
from inbox.db import utcnow
from inbox.errors import Invalid
from inbox.events import Direction
from inbox.files import FileStore, drop_unshared
from inbox.messages.models import Attachment, Message
from inbox.orders.models import Order
from inbox.preferences.models import Consent, Preference
from inbox.realtime import LiveEvent, emit
from inbox.search import SearchDoc, forget_deleted
from inbox.text import fold
from inbox.threads.models import Case, CaseTag, Status, Thread
from inbox.visitors.models import Visitor

# What the agent types to confirm, when the customer has no name to type.
CONFIRM_WORD = "ERASE"
NOT_CONFIRMED = f"type the customer's name or {CONFIRM_WORD} to confirm"
# Audit data keys that quote what a customer said or what staff typed about them.
_QUOTED = {"preference.set": ("value", "previous"), "store.lookup": ("q",)}


@dataclass(frozen=True, slots=True)
class Erased:
    customer_id: int
    counts: dict[str, int]


def confirmed(name: str, typed: str) -> bool:
    """The agent typed the customer's name (spacing and case aside, Turkish İ/ı too) or the word ERASE."""
    said = fold(" ".join(typed.split()))
    return bool(said) and said in {fold(CONFIRM_WORD), fold(" ".join(name.split()))}


async def erase(session: AsyncSession, customer_id: int, *, confirm: str, files: FileStore, actor: str) -> Erased:
    """Erase the customer and everyone merged into them; the audit record says who, when and how much.

    `confirm` is what the agent typed (see confirmed()); anything else is Invalid and erases nothing.
    """
    await session.flush()
    survivor = await customers.get(session, customer_id)
    if not confirmed(survivor.name, confirm):
        raise Invalid("confirm", NOT_CONFIRMED)
    # Every merge locks both its customers (merge._lock): with the survivor locked first, no merge
    # into or out of this group can change it between reading the group and erasing it (PostgreSQL;
    # SQLite writers are serialised already).
    await session.execute(select(col(Customer.id)).where(col(Customer.id) == survivor.id).with_for_update())
    group = await group_of(session, survivor.id or 0)
    members = group.customer_ids
    shas = {sha for sha in (await session.execute(
        select(col(Attachment.sha256)).where(col(Attachment.message_id).in_(_messages_of(group))))).scalars().all()
        if sha}
    counts: dict[str, int] = {"customers": len(members)}
    await forget_deleted(session, lambda: _remove(session, group, counts))
    counts["files"] = await drop_unshared(session, files, shas)

    await audit.record(session, actor=actor, action="customer.erased", subject_type="customer",
                       subject_id=group.survivor_id, data={"customer_ids": members, **counts})
    for thread_id in group.thread_ids:
        await emit(session, "thread.updated", thread_id=thread_id, customer_id=group.survivor_id,
                   data={"status": str(Status.resolved)})
    return Erased(group.survivor_id, counts)


def _messages_of(group: Group) -> Any:
    return select(col(Message.id)).where(col(Message.thread_id).in_(group.thread_ids))


async def _remove(session: AsyncSession, group: Group, counts: dict[str, int]) -> None:
    """Every personal row of the group deleted or blanked; `counts` says how many of each."""
    members, threads, messages = group.customer_ids, group.thread_ids, _messages_of(group)
    names = {int(member or 0): name for member, name in (await session.execute(
        select(col(Customer.id), col(Customer.name)).where(col(Customer.id).in_(members)))).all()}
    addresses = list((await session.execute(
        select(col(Identity.address)).where(col(Identity.customer_id).in_(members)))).scalars().all())
    counts["attachments"] = await _run(session, delete(Attachment).where(col(Attachment.message_id).in_(messages)))
    counts["search_documents"] = await _run(session, delete(SearchDoc).where(or_(
        col(SearchDoc.customer_id).in_(members),
        (col(SearchDoc.kind) == "message") & col(SearchDoc.ref_id).in_(messages))))
    counts["messages"] = await _run(session, delete(Message).where(col(Message.thread_id).in_(threads)))
    # Another customer's message addressed to one of these identities keeps its text, not the link.
    identities = select(col(Identity.id)).where(col(Identity.customer_id).in_(members))
    await session.execute(update(Message).where(col(Message.identity_id).in_(identities)).values(identity_id=None))
    counts["identities"] = await _run(session, delete(Identity).where(col(Identity.customer_id).in_(members)))
    # Deleting the visitor row revokes its token: the browser's next visit starts a new, empty chat.
    counts["visitors"] = await _run(session, delete(Visitor).where(col(Visitor.address).in_(addresses))) \
        if addresses else 0
    counts["preferences"] = await _run(session, delete(Preference).where(col(Preference.customer_id).in_(members)))
    counts["consents"] = await _run(session, delete(Consent).where(col(Consent.customer_id).in_(members)))
    # Their reasons quote addresses ("typed email …, which another customer has verified").
    counts["merge_suggestions"] = await _run(session, delete(MergeSuggestion).where(or_(
        col(MergeSuggestion.customer_id).in_(members), col(MergeSuggestion.other_id).in_(members))))
    cases = select(col(Case.id)).where(col(Case.thread_id).in_(threads))
    await session.execute(delete(CaseTag).where(col(CaseTag.case_id).in_(cases)))
    counts["orders"] = await _run(session, update(Order).where(col(Order.customer_id).in_(members))
                                  .values(tracking_url=None))
    counts["live_events"] = await _run(session, update(LiveEvent).where(or_(
        col(LiveEvent.customer_id).in_(members), col(LiveEvent.thread_id).in_(threads))).values(data={}))
    await _empty_threads(session, threads)
    await session.execute(update(Customer).where(col(Customer.id).in_(members))
                          .values(name="", note="", updated_at=utcnow()))
    await _forget_names_elsewhere(session, names, threads)
    await _scrub_audit(session, members)


async def _run(session: AsyncSession, statement: Any) -> int:
    result = await session.execute(statement.execution_options(synchronize_session=False))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


async def _empty_threads(session: AsyncSession, threads: Sequence[int]) -> None:
    # Resolved, so the tombstone leaves every open view; the view counts follow by their triggers.
    await session.execute(update(Case).where(col(Case.thread_id).in_(threads), col(Case.status) != Status.resolved)
                          .values(status=Status.resolved, snoozed_until=None, resolved_at=utcnow()))
    await session.execute(update(Thread).where(col(Thread.id).in_(threads)).values(
        status=Status.resolved, snoozed_until=None, last_message_id=None, last_preview="", last_direction="",
        last_channel="", last_inbound_channel="", channels="", unread_count=0))


async def _forget_names_elsewhere(session: AsyncSession, names: dict[int, str], threads: Sequence[int]) -> None:
    """A merge that was undone left its lines ("merged Ayşe into this customer") in the other customer's
    thread: the lines stay, naming the customer by id as a merge of a nameless customer does."""
    wording = ("merged {} into this customer", "undid the merge of {} into this customer")
    stored = {form.format(name) for name in names.values() if name for form in wording}
    if not stored:
        return
    for line in (await session.execute(select(Message).where(
            col(Message.direction) == str(Direction.event), col(Message.thread_id).not_in(threads),
            col(Message.text).in_(stored)))).scalars().all():
        # The line's own record says which customer it was; a name alone may be several members'.
        named = [member for member, name in names.items() if line.text in {form.format(name) for form in wording}]
        absorbed = (line.extra or {}).get("absorbed_id")
        member = absorbed if absorbed in names else named[0]
        form = wording[0] if line.text.startswith("merged ") else wording[1]
        line.text = form.format(f"customer {member}")
        session.add(line)
    await session.flush()


async def _scrub_audit(session: AsyncSession, members: Sequence[int]) -> None:
    """The audit trail keeps who did what to whom, without the values it quoted about these customers."""
    about = (col(AuditEvent.action) == "preference.set") & col(AuditEvent.subject_id).in_(members)
    # A store lookup names the customers it found inside its data: a text match narrows the rows to read.
    found = (col(AuditEvent.action) == "store.lookup") & or_(
        *[cast(col(AuditEvent.data), Text).like(f"%{member}%") for member in members])
    for event in (await session.execute(select(AuditEvent).where(or_(about, found)))).scalars().all():
        if event.action == "store.lookup" and not set(event.data.get("customer_ids") or []) & set(members):
            continue
        event.data = {key: value for key, value in event.data.items() if key not in _QUOTED[event.action]}
        session.add(event)
    await session.flush()
