"""The inbox's views (Unassigned, Mine, All open, ..., per channel, tag and team): which threads,
newest activity first, and how many.

Every view is a prefix of one of the thread table's indexes followed by (last_activity_at, id):
(status), (assignee, status), (team, status), (status, last inbound channel); a tag view walks
case_tag by tag to the threads whose current case carries it. A page is then an index range scan
whatever the inbox's size, and the next page starts after the last row seen (keyset), never at an
OFFSET. Counts are one grouped query per family of views.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import String, and_, cast, func, literal_column, or_, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.selectable import CompoundSelect
from sqlmodel import col

from inbox import cursor
from inbox.channels import Channel
from inbox.customers.models import Customer
from inbox.errors import Invalid
from inbox.realtime import LiveEvent
from inbox.threads.models import CaseTag, Status, Thread, ThreadCount, ViewFamilyCount


class View(StrEnum):
    unassigned = "unassigned"
    mine = "mine"
    open = "open"
    pending = "pending"
    snoozed = "snoozed"
    resolved = "resolved"


class Family(StrEnum):
    channel = "channel"
    tag = "tag"
    team = "team"


@dataclass(frozen=True, slots=True)
class ViewId:
    """A view as the URL names it: "open", "channel:whatsapp", "tag:3", "team:2"."""

    family: Family | None
    key: str

    @property
    def value(self) -> str:
        return f"{self.family}:{self.key}" if self.family else self.key

    @classmethod
    def parse(cls, text: str) -> "ViewId":
        family, _, key = text.partition(":")
        if not key:
            if family not in View.__members__:
                raise Invalid("view", f"unknown view {text[:40]!r}")
            return cls(None, family)
        if family == Family.channel and key in Channel.__members__:
            return cls(Family.channel, key)
        if family in (Family.tag, Family.team) and key.isdigit() and len(key) < 10:
            return cls(Family(family), key)
        raise Invalid("view", f"unknown view {text[:40]!r}")

    @classmethod
    def of(cls, view: "View | ViewId") -> "ViewId":
        return view if isinstance(view, ViewId) else cls(None, view.value)


@dataclass(frozen=True, slots=True)
class Row:
    thread: Thread
    customer_name: str


def _where(view: ViewId, user_id: int) -> list[Any]:
    status, is_open = col(Thread.status), col(Thread.status) == Status.open
    match view.family:
        case Family.channel:
            return [is_open, col(Thread.last_inbound_channel) == view.key]
        case Family.team:
            return [col(Thread.team_id) == int(view.key), is_open]
        case Family.tag:
            return [is_open, col(Thread.case_id).in_(
                select(col(CaseTag.case_id)).where(col(CaseTag.tag_id) == int(view.key)))]
    match View(view.key):
        case View.unassigned:
            return [is_open, col(Thread.assignee_id).is_(None)]
        case View.mine:
            return [col(Thread.assignee_id) == user_id, is_open]
        case View.open:
            return [is_open]
        case other:
            return [status == Status(other.value)]


async def page(session: AsyncSession, view: View | ViewId, *, user_id: int, limit: int = 50,
               after: tuple[datetime, int] | None = None) -> list[Row]:
    query = (select(Thread, col(Customer.name)).join(Customer, col(Customer.id) == col(Thread.customer_id))
             .where(*_where(ViewId.of(view), user_id)))
    if after is not None:
        at, thread_id = after
        query = query.where(or_(col(Thread.last_activity_at) < at,
                                and_(col(Thread.last_activity_at) == at, col(Thread.id) < thread_id)))
    rows = await session.execute(
        query.order_by(col(Thread.last_activity_at).desc(), col(Thread.id).desc()).limit(limit))
    return [Row(thread, name) for thread, name in rows.all()]


def cursor_after(row: Row) -> str:
    """The `after` of the page that follows this row."""
    return cursor.encode(row.thread.last_activity_at, row.thread.id or 0)


def parse_cursor(text: str) -> tuple[datetime, int]:
    return cursor.decode(text, field="after")


# Every view's size, from thread_count (a row per status and assignee) and view_family_count (a row per
# channel, team and tag), not counted from the threads; and where the live events stand. One statement,
# each row tagged with its source: a full page asked for them one by one (three round trips on PostgreSQL).
_ALL_COUNTS: CompoundSelect = union_all(
    select(literal_column("'status'").label("source"), col(ThreadCount.status).label("a"),
           cast(col(ThreadCount.assignee_id), String).label("b"), col(ThreadCount.n).label("n")),
    select(literal_column("'family'"), col(ViewFamilyCount.family), col(ViewFamilyCount.ref),
           col(ViewFamilyCount.n)).where(col(ViewFamilyCount.n) > 0),
    select(literal_column("'live'"), literal_column("''"), literal_column("''"),
           func.coalesce(func.max(col(LiveEvent.id)), 0)),
)


def _views_of(rows: Iterable[tuple[str, int, int]], user_id: int) -> dict[View, int]:
    found = dict.fromkeys(View, 0)
    for status, assignee_id, n in rows:
        if status == Status.open:
            found[View.open] += n
            found[View.unassigned] += n if assignee_id == 0 else 0
            found[View.mine] += n if assignee_id == user_id else 0
        elif status in (Status.pending, Status.snoozed, Status.resolved):
            found[View(status)] += n
    return found


@dataclass(frozen=True, slots=True)
class FamilyCounts:
    """Open threads per channel, per tag id and per team id; a key with no open thread is absent."""

    channel: dict[str, int]
    tag: dict[int, int]
    team: dict[int, int]


def _families_of(rows: Iterable[tuple[str, str, int]]) -> FamilyCounts:
    found = FamilyCounts(channel={}, tag={}, team={})
    for family, ref, n in rows:
        if family == "channel":
            found.channel[ref] = int(n)
        elif family == "tag":
            found.tag[int(ref)] = int(n)
        elif family == "team":
            found.team[int(ref)] = int(n)
    return found


@dataclass(frozen=True, slots=True)
class Overview:
    counts: dict[View, int]
    families: FamilyCounts
    # The newest live event's id (realtime.last_event_id): a page rendered now resumes after it.
    last_event_id: int


async def overview(session: AsyncSession, *, user_id: int) -> Overview:
    """Every view's size, the open threads per channel, tag and team, and realtime.last_event_id()."""
    statuses: list[tuple[str, int, int]] = []
    families: list[tuple[str, str, int]] = []
    last = 0
    for source, a, b, n in (await session.execute(_ALL_COUNTS)).all():
        if source == "status":
            statuses.append((a, int(b), int(n)))
        elif source == "family":
            families.append((a, b, int(n)))
        else:
            last = int(n)
    return Overview(_views_of(statuses, user_id), _families_of(families), last)
