"""Teams: groups of agents a conversation can be assigned to."""

from collections.abc import Sequence

from sqlalchemy import delete, insert, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from inbox.agents.models import Team, TeamMember, User
from inbox.errors import Conflict, Invalid, NotFound


async def all_teams(session: AsyncSession) -> list[Team]:
    return list((await session.execute(select(Team).order_by(col(Team.name)))).scalars())


async def get(session: AsyncSession, team_id: int) -> Team:
    team = await session.get(Team, team_id)
    if team is None:
        raise NotFound("team", team_id)
    return team


async def create(session: AsyncSession, *, name: str) -> Team:
    name = name.strip()
    if not name:
        raise Invalid("name", "must not be empty")
    if (await session.execute(select(col(Team.id)).where(col(Team.name) == name))).first():
        raise Conflict(f"a team named {name} exists")
    team = Team(name=name[:100])
    session.add(team)
    await session.flush()
    return team


async def rename(session: AsyncSession, team_id: int, *, name: str) -> Team:
    team = await get(session, team_id)
    name = name.strip()
    if not name:
        raise Invalid("name", "must not be empty")
    clash = (await session.execute(select(col(Team.id)).where(col(Team.name) == name, col(Team.id) != team_id))).first()
    if clash:
        raise Conflict(f"a team named {name} exists")
    team.name = name[:100]
    session.add(team)
    await session.flush()
    return team


async def set_members(session: AsyncSession, team_id: int, user_ids: Sequence[int]) -> None:
    """The team has exactly these members afterwards; unknown users are refused, not ignored."""
    await get(session, team_id)
    wanted = set(user_ids)
    known = set((await session.execute(select(col(User.id)).where(col(User.id).in_(wanted)))).scalars())
    if unknown := wanted - known:
        raise NotFound("user", min(unknown))
    await session.execute(delete(TeamMember).where(col(TeamMember.team_id) == team_id))
    if user_ids:
        await session.execute(insert(TeamMember), [{"team_id": team_id, "user_id": uid} for uid in sorted(wanted)])


async def members(session: AsyncSession, team_id: int) -> list[User]:
    return list((await session.execute(
        select(User).join(TeamMember, col(TeamMember.user_id) == col(User.id))
        .where(col(TeamMember.team_id) == team_id).order_by(col(User.name)))).scalars())


async def teams_of(session: AsyncSession, user_id: int) -> list[Team]:
    return list((await session.execute(
        select(Team).join(TeamMember, col(TeamMember.team_id) == col(Team.id))
        .where(col(TeamMember.user_id) == user_id).order_by(col(Team.name)))).scalars())


async def member_ids(session: AsyncSession) -> dict[int, set[int]]:
    """Every team's member ids, in one query, for pages that show all teams at once."""
    found: dict[int, set[int]] = {}
    for team_id, user_id in await session.execute(select(col(TeamMember.team_id), col(TeamMember.user_id))):
        found.setdefault(team_id, set()).add(user_id)
    return found
