"""What an agent does to a conversation, also written into its history: the next agent reads who
assigned it, and who resolved it, in the time line itself."""

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from inbox.agents.models import Team, User
from inbox.messages import service as messages
from inbox.threads import service as threads
from inbox.threads.models import Status, Thread


async def assign(session: AsyncSession, thread: Thread, *, assignee_id: int | None, team_id: int | None,
                 by: User) -> None:
    if (assignee_id, team_id) == (thread.assignee_id, thread.team_id):
        return
    await threads.assign(session, thread, assignee_id=assignee_id, team_id=team_id)
    agent = await session.get(User, assignee_id) if assignee_id else None
    team = await session.get(Team, team_id) if team_id else None
    to, team_name = (agent.name if agent else None), (team.name if team else None)
    text = f"{by.name} assigned this to {to}" if to else f"{by.name} unassigned this"
    await messages.append_event(session, thread, text=text + (f", team {team_name}" if team_name else ""),
                                extra={"event": "case.assigned", "by": by.name, "to": to, "team": team_name})


async def set_status(session: AsyncSession, thread: Thread, *, status: Status, by: User | None,
                     snoozed_until: datetime | None = None) -> None:
    """Change the status; with `by` (an agent, not a timer), say so in the history."""
    if status == thread.status and snoozed_until == thread.snoozed_until:
        return
    await threads.set_status(session, thread, status=status, snoozed_until=snoozed_until)
    if by is not None:
        await messages.append_event(session, thread, text=f"{by.name} set the status to {status}",
                                    extra={"event": "case.status", "by": by.name, "status": str(status)})
