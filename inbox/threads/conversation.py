"""One conversation as an agent sees it: the thread's history beside the customer's whole profile."""

import dataclasses
import functools
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Select, bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from inbox import json_rows
from inbox import templates as message_templates
from inbox.agents.models import Tag, Team, User
from inbox.agents.service import ASSIGNABLE
from inbox.channels import Channel
from inbox.customers import profile
from inbox.customers import service as customers
from inbox.customers.models import Customer, MergeSuggestion
from inbox.customers.profile import Profile
from inbox.db import table_of, utcnow
from inbox.events import Direction
from inbox.messages import service as messages
from inbox.messages.models import Attachment, Message
from inbox.orders import mentions as order_mentions
from inbox.orders import service as orders
from inbox.preferences import service as preferences
from inbox.preferences.service import Provenance
from inbox.templates import MessageTemplate
from inbox.threads.models import CaseTag, Thread
from inbox.windows import Window, for_identities

# Channels a reply can go out on; a phone call is logged as a note, never "sent".
_REPLYABLE = [channel for channel in Channel if channel != Channel.phone]
# The sidebar shows a regular's newest orders, and how many more there are.
SIDEBAR_ORDERS = 10


@dataclass(frozen=True, slots=True)
class Conversation:
    thread: Thread
    profile: Profile
    messages: Sequence[Message]
    attachments: dict[int, list[Attachment]]
    older: str | None
    # Where the history shown stops short of the newest message, and the message it was opened on.
    newer: str | None
    around: int | None
    reply_channels: Sequence[str]
    default_channel: str | None
    # Open merge suggestions, each with the other customer as it stands now.
    suggestions: Sequence[tuple[MergeSuggestion, Customer]]
    # Each reply channel's messaging window, for the composer's notice.
    windows: dict[str, Window]
    # The current case's tags, and what the thread's action menus offer.
    tags: Sequence[Tag]
    tag_catalog: Sequence[Tag]
    agents: Sequence[User]
    teams: Sequence[Team]
    # What may still go out where a channel's window is closed (WhatsApp templates), by channel.
    templates: dict[str, Sequence[MessageTemplate]]
    # Who set the sidebar's preferences and the messages they and the consents quote.
    provenance: Provenance
    # The customer's order numbers that their messages on this page mention, with the order ids.
    order_links: dict[str, int] = field(default_factory=dict)


async def load(session: AsyncSession, thread: Thread, *, limit: int = 50, before: str | None = None,
               after: str | None = None, around: int | None = None, since: int | None = None,
               customer: Customer | None = None) -> Conversation:
    """The conversation with its newest page of history, or the page before/after a cursor, around a
    message or from a message on (see messages.window). `customer` is the thread's customer row
    when the caller read it with the thread (threads.get_with_customer), so it is not read again."""
    whole = await profile.load(session, thread.customer_id, orders_limit=SIDEBAR_ORDERS,
                               known=(customer, thread) if customer is not None else None)
    # The profile already followed any merge to the customer's one thread: page it directly.
    history = await messages.window(session, whole.customer.id or 0, whole.thread.id or 0, limit=limit,
                                    before=before, after=after, around=around, since=since)
    whole, order_links = await _with_mentioned_orders(session, whole, history.messages)
    have = {identity.channel for identity in whole.identities}
    channels = [str(channel) for channel in _REPLYABLE if channel in have]
    default = thread.last_inbound_channel if thread.last_inbound_channel in channels else None
    me = whole.customer.id
    windows = for_identities(whole.identities, channels, now=utcnow())
    closed = [channel for channel, w in windows.items() if not w.open and channel in message_templates.CHANNELS]
    tag_catalog, tags, agents, teams, approved = await _menus(session, whole.thread.case_id)
    suggestions = [(suggestion, await customers.get(session, suggestion.other_id if suggestion.customer_id == me
                                                    else suggestion.customer_id))
                   for suggestion in whole.suggestions]
    return Conversation(thread=whole.thread, profile=whole, messages=history.messages,
                        attachments=history.attachments, older=history.next, newer=history.newer,
                        around=around, reply_channels=channels,
                        default_channel=default or (channels[0] if channels else None), suggestions=suggestions,
                        windows=windows,
                        tags=tags, tag_catalog=tag_catalog, agents=agents, teams=teams,
                        templates={channel: [t for t in approved if t.channel == channel] for channel in closed},
                        order_links=order_links,
                        provenance=await preferences.provenance(session, whole.preferences, whole.consents))


_TAG, _CASE_TAG, _USER, _TEAM, _TEMPLATE = (json_rows.columns(model)
                                             for model in (Tag, CaseTag, User, Team, MessageTemplate))


@functools.cache
def _menus_statement(dialect: str) -> Select[Any]:
    """What the thread's menus offer, as tags.all_tags, tags.of_case, agents.active_agents,
    teams.all_teams and templates.all_templates read them, in one statement (inbox.json_rows)."""
    tag, case_tag, user, team, template = (table_of(model) for model in (Tag, CaseTag, User, Team, MessageTemplate))
    return select(
        json_rows.array(dialect, json_rows.subquery(Tag, order_by=(tag.c.name,)), _TAG),
        json_rows.array(dialect, json_rows.subquery(CaseTag, case_tag.c.case_id == bindparam("case_id"),
                                                    order_by=(case_tag.c.tag_id,)), _CASE_TAG),
        json_rows.array(dialect, json_rows.subquery(User, *ASSIGNABLE, order_by=(user.c.name,)), _USER),
        json_rows.array(dialect, json_rows.subquery(Team, order_by=(team.c.name,)), _TEAM),
        # The composer offers a channel's templates only where its window is closed: most pages
        # show none, but they cost less here than a statement of their own on the pages that do.
        json_rows.array(dialect, json_rows.subquery(MessageTemplate, template.c.channel.in_(
            [str(channel) for channel in message_templates.CHANNELS]), order_by=(template.c.name,)), _TEMPLATE),
    )


async def _menus(session: AsyncSession, case_id: int | None) -> tuple[
        list[Tag], list[Tag], list[User], list[Team], list[MessageTemplate]]:
    """The tag catalog, the case's tags (by name), the active agents, the teams and the approved templates."""
    catalog, carried, agents, teams, approved = (await session.execute(
        _menus_statement(session.get_bind().dialect.name), {"case_id": case_id})).one()
    tags = json_rows.rows(Tag, catalog, _TAG)
    on_case = {case_tag.tag_id for case_tag in json_rows.rows(CaseTag, carried, _CASE_TAG)}
    return (tags, [tag for tag in tags if tag.id in on_case], json_rows.rows(User, agents, _USER),
            json_rows.rows(Team, teams, _TEAM), json_rows.rows(MessageTemplate, approved, _TEMPLATE))


async def _with_mentioned_orders(session: AsyncSession, whole: Profile,
                                 shown: Sequence[Message]) -> tuple[Profile, dict[str, int]]:
    """The orders the customer's shown messages mention, and the profile with those of them the
    sidebar would not list (older than its newest few) added, so every link has an order to land on."""
    numbers = order_mentions.numbers_in(m.text for m in shown if m.direction == Direction.inbound and m.text)
    found = await order_mentions.of_customer(session, whole.customer.id or 0, numbers)
    listed = {order.id for order, _ in whole.orders}
    missing = [order for order in found if order.id not in listed]
    if missing:
        whole = dataclasses.replace(whole, orders=[*whole.orders, *await orders.with_lines(session, missing)])
    return whole, {order.number: order.id or 0 for order in found}
