"""What agents write into a thread: replies (queued for delivery) and internal notes."""

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from inbox import mentions, templates
from inbox.channels import AddressKind, Channel
from inbox.customers import service as customers
from inbox.customers.models import Identity
from inbox.db import after_commit, utcnow
from inbox.errors import Invalid
from inbox.events import DeliveryStatus, Direction
from inbox.files import StoredFile
from inbox.messages import service as messages
from inbox.messages.models import Message
from inbox.realtime import emit
from inbox.text import preview, reply_subject, required
from inbox.threads import service as threads
from inbox.threads.models import Thread
from inbox.visitors import service as visitors
from inbox.windows import WindowClosed, window

MAX_TEXT = 10_000


def _clean(text: str) -> str:
    return required("text", text, limit=MAX_TEXT)


async def reply_identity(session: AsyncSession, customer_id: int, channel: Channel) -> Identity:
    """The address a reply on this channel goes to: the one the customer last wrote from."""
    found = (await session.execute(
        select(Identity).where(col(Identity.customer_id) == customer_id, col(Identity.channel) == channel)
        .order_by(col(Identity.last_inbound_at).desc().nulls_last(), col(Identity.id).desc())
        .limit(1)
    )).scalar_one_or_none()
    if found is None:
        raise Invalid("channel", f"the customer has no {channel} address to reply to")
    return found


async def email_identity(session: AsyncSession, customer_id: int) -> Identity | None:
    """Where an email to the customer goes: the address they wrote from by email, else the best one
    known (proven before typed, newest first), such as the one they gave the web chat."""
    found = (await session.execute(
        select(Identity).where(col(Identity.customer_id) == customer_id, col(Identity.kind) == AddressKind.email)
        .order_by((col(Identity.channel) == str(Channel.email)).desc(), col(Identity.verified).desc(),
                  col(Identity.last_inbound_at).desc().nulls_last(), col(Identity.id).desc())
        .limit(1))).scalar_one_or_none()
    return found


async def queue_reply(session: AsyncSession, *, customer_id: int, channel: Channel, text: str,
                      author_user_id: int | None = None, author_name: str = "",
                      idempotency_key: str | None = None, files: Sequence[StoredFile] = (),
                      extra: dict[str, Any] | None = None, now: datetime | None = None) -> Message:
    """Store the reply as queued in the caller's transaction; the delivery worker sends it after commit.

    Refused with WindowClosed when the channel's messaging window (inbox/windows.py) is closed for
    the address the reply goes to, measured at `now`; a reply only a tag allows gets that tag.
    `extra` travels to the adapter (OutboundMessage.extra).

    A web chat reply to a visitor whose widget is closed goes to the customer's email instead (the
    widget told them it would), marked extra["instead_of"] = "webchat"; with no email known it stays
    a web chat reply, shown when they come back.
    """
    if channel == Channel.phone:
        raise Invalid("channel", "phone is for logging calls; reply on a messaging channel")
    body = _clean(text)
    if earlier := await _earlier(session, idempotency_key):
        # A client repeating its request after the window closed still gets what it created.
        return earlier
    customer = await customers.get(session, customer_id)
    identity = await reply_identity(session, customer.id or 0, channel)
    if channel == Channel.webchat and not await visitors.online(session, address=identity.address,
                                                                  now=now or utcnow()):
        by_email = await email_identity(session, customer.id or 0)
        if by_email is not None:
            channel, identity = Channel.email, by_email
            extra = {**(extra or {}), "instead_of": str(Channel.webchat)}
    current = window(channel, identity.last_inbound_at, now=now or utcnow())
    if not current.open:
        raise WindowClosed(current)
    if current.tag:
        extra = {**(extra or {}), "tag": current.tag}
    thread = await threads.for_customer(session, customer.id or 0)
    # What the reply answers: email threads it (In-Reply-To, References) and keeps its subject.
    answered = await messages.last_inbound(session, thread_id=thread.id or 0, channel=channel)
    return await _queue(session, thread, messages.NewMessage(
        direction=Direction.outbound, channel=channel, text=body, author_type="agent",
        author_user_id=author_user_id, author_name=author_name, identity_id=identity.id,
        reply_to_id=answered.id if answered else None,
        subject=reply_subject(answered.subject) if answered and answered.subject else None,
        delivery_status=DeliveryStatus.queued, idempotency_key=idempotency_key, extra=extra), files)


async def queue_template(session: AsyncSession, *, customer_id: int, template_id: int, variables: dict[str, str],
                         author_user_id: int | None = None, author_name: str = "",
                         idempotency_key: str | None = None, extra: dict[str, Any] | None = None) -> Message:
    """Queue an approved template, whatever the window: that is what templates are for.

    The message's text is the filled-in copy (what the thread shows); extra["template"] holds what
    the adapter sends instead: the Content SID and the variables.
    """
    template = await templates.get(session, template_id)
    text = templates.render(template.body, variables)
    if earlier := await _earlier(session, idempotency_key):
        return earlier
    customer = await customers.get(session, customer_id)
    identity = await reply_identity(session, customer.id or 0, Channel(template.channel))
    sent = {"name": template.name, "content_sid": template.content_sid,
            "variables": {number: variables[number].strip() for number in templates.placeholders(template.body)}}
    return await _queue(session, await threads.for_customer(session, customer.id or 0), messages.NewMessage(
        direction=Direction.outbound, channel=template.channel, text=text, author_type="agent",
        author_user_id=author_user_id, author_name=author_name, identity_id=identity.id,
        delivery_status=DeliveryStatus.queued, idempotency_key=idempotency_key,
        extra={**(extra or {}), "template": sent}), ())


async def _queue(session: AsyncSession, thread: Thread, new: messages.NewMessage,
                 files: Sequence[StoredFile]) -> Message:
    message_id = await messages.append(session, thread, new)
    if message_id is None:
        return await _by_idempotency_key(session, new.idempotency_key)
    await _attach(session, message_id, files)
    await threads.record_first_response(session, thread, at=thread.last_activity_at)
    wake = session.info.get("wake_delivery")
    if wake is not None:
        after_commit(session, wake)
    return await messages.get(session, message_id)


async def add_note(session: AsyncSession, *, customer_id: int, text: str, channel: Channel | None = None,
                   author_user_id: int | None = None, author_name: str = "",
                   idempotency_key: str | None = None, files: Sequence[StoredFile] = ()) -> Message:
    """An internal note: never sent. Its channel is only where it was written (a call, a chat).

    Colleagues it @mentions are stored in extra["mentions"] (ids) and told through a live
    "note.mention" event addressed to them.
    """
    body = _clean(text)
    customer = await customers.get(session, customer_id)
    thread = await threads.for_customer(session, customer.id or 0)
    named = mentions.mentioned(body, await mentions.candidates(session, limit=10_000))
    extra = {"mentions": [user.id for user in named], "mention_names": [user.name for user in named]} if named else {}
    message_id = await messages.append(session, thread, messages.NewMessage(
        direction=Direction.note, channel=channel or thread.last_channel or Channel.phone, text=body,
        author_type="agent", author_user_id=author_user_id, author_name=author_name,
        idempotency_key=idempotency_key, extra=extra))
    if message_id is None:
        return await _by_idempotency_key(session, idempotency_key)
    await _attach(session, message_id, files)
    if told := [user.id for user in named if user.id != author_user_id]:
        await emit(session, "note.mention", thread_id=thread.id, customer_id=customer.id,
                   data={"message_id": message_id, "user_ids": told, "author_name": author_name,
                         "customer_name": customer.name, "preview": preview(body, 120)})
    return await messages.get(session, message_id)


async def _attach(session: AsyncSession, message_id: int, files: Sequence[StoredFile]) -> None:
    await messages.add_files(session, message_id, [
        {"filename": file.filename[:255], "content_type": file.content_type[:120], "size": file.size,
         "sha256": file.sha256} for file in files])
    if files:
        await session.flush()


async def _earlier(session: AsyncSession, key: str | None) -> Message | None:
    if key is None:
        return None
    return (await session.execute(select(Message).where(col(Message.idempotency_key) == key))).scalar_one_or_none()


async def _by_idempotency_key(session: AsyncSession, key: str | None) -> Message:
    # The same key was used before: answer with what it created, never a second message.
    found = (await session.execute(select(Message).where(col(Message.idempotency_key) == key))).scalar_one()
    return found
