"""Browser sign-in: sessions that can be ended server-side, and a limit on password guessing.

Failures are counted in the database, not in process memory, so several app processes behind a
load balancer share one limit.
"""

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import bindparam, delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from inbox.agents.models import SignInFailure, SignInSession, User
from inbox.agents.service import authenticate
from inbox.db import utcnow

# Idle sessions end after this; an agent working every day stays signed in.
IDLE_LIMIT = timedelta(days=14)
# Writing last_seen_at on every request would make every page a write: once a minute is enough.
_TOUCH_EVERY = timedelta(minutes=1)
FAILURE_WINDOW = timedelta(minutes=15)
MAX_FAILURES = 5


class TooManyFailures(Exception):
    """Sign-in refused without checking the password: too many recent failures for this email or address."""


@dataclass(frozen=True, slots=True)
class SignedIn:
    user: User
    session_id: int
    csrf_token: str


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _failure_keys(email: str, client: str) -> list[str]:
    return [f"email:{email.strip().lower()}"[:400], f"client:{client}"[:400]]


async def sign_in(session: AsyncSession, *, email: str, password: str, client: str) -> tuple[str, User] | None:
    """The new session's cookie token and its user, or None for a wrong email or password."""
    keys = _failure_keys(email, client)
    since = utcnow() - FAILURE_WINDOW
    recent = (await session.execute(
        select(func.count()).select_from(SignInFailure)
        .where(col(SignInFailure.key).in_(keys), col(SignInFailure.at) >= since)
        .group_by(col(SignInFailure.key)).order_by(func.count().desc()).limit(1)
    )).scalar_one_or_none() or 0
    if recent >= MAX_FAILURES:
        raise TooManyFailures()
    user = await authenticate(session, email=email, password=password)
    if user is None:
        session.add_all([SignInFailure(key=key) for key in keys])
        await session.flush()
        return None
    await session.execute(delete(SignInFailure).where(col(SignInFailure.key) == keys[0]))
    token = secrets.token_urlsafe(32)
    session.add(SignInSession(token_hash=_digest(token), user_id=user.id or 0, csrf_token=secrets.token_urlsafe(32)))
    await session.flush()
    return token, user


# Asked on every page: built once, not per request.
_LIVE_SESSION = select(SignInSession, User).join(User, col(User.id) == col(SignInSession.user_id)).where(
    col(SignInSession.token_hash) == bindparam("token_hash"), col(SignInSession.ended_at).is_(None),
    col(User.active).is_(True))


async def signed_in(session: AsyncSession, token: str) -> SignedIn | None:
    """Who this cookie belongs to, if the session is live and its user still active."""
    if not token:
        return None
    row = (await session.execute(_LIVE_SESSION, {"token_hash": _digest(token)})).first()
    if row is None:
        return None
    record, user = row
    now = utcnow()
    if now - record.last_seen_at > IDLE_LIMIT:
        return None
    if now - record.last_seen_at > _TOUCH_EVERY:
        await session.execute(update(SignInSession).where(col(SignInSession.id) == record.id)
                              .values(last_seen_at=now))
    return SignedIn(user=user, session_id=record.id or 0, csrf_token=record.csrf_token)


async def sign_out(session: AsyncSession, session_id: int) -> None:
    await session.execute(update(SignInSession).where(col(SignInSession.id) == session_id)
                          .values(ended_at=utcnow()))


def csrf_matches(expected: str, given: str | None) -> bool:
    return bool(given) and secrets.compare_digest(expected.encode(), (given or "").encode())
