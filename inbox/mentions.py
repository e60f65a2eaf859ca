"""@mentions in internal notes: who can be mentioned, who a note mentions, and where in its text.

A mention is `@` followed by a colleague's name as the composer inserts it ("@Ayşe Demir"). The
text is the truth: a name the agent deleted before sending mentions nobody.
"""

import re
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from inbox.agents.models import Role, User
from inbox.text import fold


async def candidates(session: AsyncSession, q: str = "", *, limit: int = 8) -> list[User]:
    """Active agents and admins whose name (or email) starts a word with q, by name."""
    users = (await session.execute(
        select(User).where(col(User.active), col(User.role).in_((Role.agent, Role.admin)))
        .order_by(col(User.name), col(User.id))
    )).scalars().all()
    wanted = fold(q.strip())
    return [user for user in users
            if not wanted or any(word.startswith(wanted) for word in fold(f"{user.name} {user.email}").split())
            ][:limit]


def mentioned(text: str, users: Sequence[User]) -> list[User]:
    """The users `text` mentions, longest name first so "@Ali Can" is not also "@Ali"."""
    found: list[User] = []
    rest = text
    for user in sorted(users, key=lambda u: len(u.name), reverse=True):
        if not user.name.strip():
            continue
        pattern = _pattern(user.name)
        if pattern.search(rest):
            found.append(user)
            rest = pattern.sub(" ", rest)
    return found


def parts(text: str, names: Sequence[str]) -> list[tuple[str, bool]]:
    """The text cut into (piece, is_mention) so a template can highlight mentions and escape the rest."""
    names = [name for name in names if name.strip()]
    if not names:
        return [(text, False)]
    alternatives = "|".join(re.escape(name) for name in sorted(names, key=len, reverse=True))
    pieces: list[tuple[str, bool]] = []
    at = 0
    for match in re.finditer(rf"@(?:{alternatives})(?!\w)", text, flags=re.IGNORECASE):
        if match.start() > at:
            pieces.append((text[at:match.start()], False))
        pieces.append((match.group(0), True))
        at = match.end()
    if at < len(text):
        pieces.append((text[at:], False))
    return pieces


def _pattern(name: str) -> re.Pattern[str]:
    # Not followed by a letter: "@Ali" must not match inside "@Alican".
    return re.compile(rf"@{re.escape(name)}(?!\w)", flags=re.IGNORECASE)
