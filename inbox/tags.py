"""Tags: the shop's labels ("iade", "kargo", "vip") and which case of a thread carries them.

A tag belongs to the current case, not the thread for life: a return handled in March does not
label the shoe-size question in June.
"""

from collections.abc import Sequence

from sqlalchemy import delete, insert, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from inbox.agents.models import Tag
from inbox.errors import Conflict, Invalid, NotFound
from inbox.realtime import emit
from inbox.threads.models import Case, CaseTag

# A small fixed palette, each legible behind dark text, so tags look alike wherever they are shown.
COLORS = ("#e9ecef", "#ffc9c9", "#ffd8a8", "#ffec99", "#b2f2bb", "#99e9f2", "#a5d8ff", "#d0bfff", "#fcc2d7")


def _color(color: str) -> str:
    if color and color not in COLORS:
        raise Invalid("color", f"pick one of {', '.join(COLORS)}")
    return color


def _clean(name: str) -> str:
    name = " ".join(name.split())
    if not name:
        raise Invalid("name", "must not be empty")
    return name[:60]


async def all_tags(session: AsyncSession) -> list[Tag]:
    return list((await session.execute(select(Tag).order_by(col(Tag.name)))).scalars())


async def get(session: AsyncSession, tag_id: int) -> Tag:
    tag = await session.get(Tag, tag_id)
    if tag is None:
        raise NotFound("tag", tag_id)
    return tag


async def create(session: AsyncSession, *, name: str, color: str = "") -> Tag:
    name = _clean(name)
    if (await session.execute(select(col(Tag.id)).where(col(Tag.name) == name))).first():
        raise Conflict(f"a tag named {name} exists")
    tag = Tag(name=name, color=_color(color))
    session.add(tag)
    await session.flush()
    return tag


async def update(session: AsyncSession, tag_id: int, *, name: str, color: str = "") -> Tag:
    tag = await get(session, tag_id)
    name = _clean(name)
    if (await session.execute(select(col(Tag.id)).where(col(Tag.name) == name, col(Tag.id) != tag_id))).first():
        raise Conflict(f"a tag named {name} exists")
    tag.name, tag.color = name, _color(color)
    session.add(tag)
    await session.flush()
    return tag


async def remove(session: AsyncSession, tag_id: int) -> None:
    await get(session, tag_id)
    await session.execute(delete(CaseTag).where(col(CaseTag.tag_id) == tag_id))
    await session.execute(delete(Tag).where(col(Tag.id) == tag_id))


async def of_case(session: AsyncSession, case_id: int | None) -> list[Tag]:
    if case_id is None:
        return []
    return list((await session.execute(
        select(Tag).join(CaseTag, col(CaseTag.tag_id) == col(Tag.id))
        .where(col(CaseTag.case_id) == case_id).order_by(col(Tag.name)))).scalars())


async def set_case_tags(session: AsyncSession, case_id: int, tag_ids: Sequence[int]) -> list[Tag]:
    """The case carries exactly these tags afterwards; unknown ids are refused, not ignored."""
    wanted = set(tag_ids)
    known = set((await session.execute(select(col(Tag.id)).where(col(Tag.id).in_(wanted)))).scalars())
    if unknown := wanted - known:
        raise NotFound("tag", min(unknown))
    await session.execute(delete(CaseTag).where(col(CaseTag.case_id) == case_id))
    if wanted:
        await session.execute(insert(CaseTag), [{"case_id": case_id, "tag_id": tag_id} for tag_id in sorted(wanted)])
    # Open inboxes re-count their tag views on this.
    thread_id = (await session.execute(select(col(Case.thread_id)).where(col(Case.id) == case_id))).scalar_one_or_none()
    await emit(session, "case.tagged", thread_id=thread_id, data={"case_id": case_id, "tag_ids": sorted(wanted)})
    return await of_case(session, case_id)
