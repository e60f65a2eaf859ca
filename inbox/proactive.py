"""Messages the shop starts (a restock, a store event): only on a channel where the customer agreed
to marketing, and on WhatsApp outside the 24-hour window only as an approved template.

The consent in force is the latest record per channel (inbox/preferences); the window rule is the
reply's own (inbox/replies.py), so a proactive message obeys everything a reply does, and more.
"""

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from inbox import templates
from inbox.channels import Channel
from inbox.customers import service as customers
from inbox.errors import Conflict, Invalid
from inbox.messages.models import Message
from inbox.preferences.service import consents_in_force
from inbox.replies import queue_reply, queue_template

MARKETING = "marketing"
# Marks the message in the thread (a label) and in the API (MessageOut.proactive).
PROACTIVE = "proactive"
_NAMES = {Channel.whatsapp: "WhatsApp", Channel.email: "email", Channel.webchat: "web chat",
          Channel.messenger: "Messenger", Channel.telegram: "Telegram", Channel.phone: "phone"}


class NoConsent(Conflict):
    """No marketing consent in force on the channel: never granted, or withdrawn since."""

    def __init__(self, channel: str, withdrawn_at: datetime | None) -> None:
        name = _NAMES.get(Channel(channel), channel)
        why = (f"the customer withdrew it on {withdrawn_at:%Y-%m-%d}" if withdrawn_at is not None
               else "the customer has not agreed to marketing messages there")
        super().__init__(f"no marketing consent on {name}: {why}; a proactive message needs the customer's "
                         f"consent on that channel, recorded with the message where they said yes")
        self.channel, self.withdrawn_at = channel, withdrawn_at


async def require_consent(session: AsyncSession, customer_id: int, channel: str) -> None:
    found = next((c for c in await consents_in_force(session, customer_id)
                  if c.channel == channel and c.purpose == MARKETING), None)
    if found is None or not found.granted:
        raise NoConsent(channel, found.recorded_at if found is not None else None)


async def queue_proactive(session: AsyncSession, *, customer_id: int, channel: Channel, text: str | None = None,
                          template_id: int | None = None, variables: dict[str, str] | None = None,
                          author_user_id: int | None = None, author_name: str = "",
                          idempotency_key: str | None = None, now: datetime | None = None) -> Message:
    """Queue a message nobody asked for: free text, or an approved template (`template_id`).

    Refused with NoConsent before anything else, then as a reply is (WindowClosed, no address).
    """
    owner = (await customers.get(session, customer_id)).id or customer_id
    await require_consent(session, owner, channel)
    if template_id is not None:
        template = await templates.get(session, template_id)
        if template.channel != channel:
            raise Invalid("template_id", f"that template is for {template.channel}, not {channel}")
        message = await queue_template(session, customer_id=owner, template_id=template_id,
                                       variables=variables or {}, author_user_id=author_user_id,
                                       author_name=author_name, idempotency_key=idempotency_key,
                                       extra={PROACTIVE: True})
    else:
        message = await queue_reply(session, customer_id=owner, channel=channel, text=text or "",
                                    author_user_id=author_user_id, author_name=author_name,
                                    idempotency_key=idempotency_key, extra={PROACTIVE: True}, now=now)
    if message.channel != channel:
        # A web chat message to a visitor who left goes by email instead: that needs email's consent.
        await require_consent(session, owner, message.channel)
    return message
