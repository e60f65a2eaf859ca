"""Whether anyone is answering now: an agent counts as online while their inbox's live socket is open.

The socket marks its sign-in session live for a while and renews the mark as long as it stays open,
so a process that dies takes its agents offline within LIVE_FOR, without anyone cleaning up.
"""

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import exists, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from inbox.agents.models import Role, SignInSession, User

# Renewed every third of this, so one missed renewal (a slow database) does not flap the status.
LIVE_FOR = timedelta(seconds=90)


async def mark_live(session: AsyncSession, session_ids: Sequence[int], *, until: datetime | None) -> None:
    """Sign-in sessions whose socket is open until `until`; None: closed now."""
    if session_ids:
        await session.execute(update(SignInSession).where(col(SignInSession.id).in_(session_ids))
                              .values(live_until=until))


async def agents_online(session: AsyncSession, *, now: datetime) -> bool:
    return bool((await session.execute(select(exists().where(
        col(SignInSession.live_until) > now, col(SignInSession.ended_at).is_(None),
        col(User.id) == col(SignInSession.user_id), col(User.active).is_(True),
        col(User.role).in_([Role.agent, Role.admin]))))).scalar())
