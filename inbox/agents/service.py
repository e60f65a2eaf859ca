import hashlib
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from inbox.agents.models import ApiToken, Role, User
from inbox.customers.addresses import normalize_email
from inbox.db import utcnow
from inbox.errors import Conflict, Invalid

_hasher = PasswordHasher()
# Verifying against this when the email is unknown keeps sign-in time the same either way.
_DUMMY_HASH = _hasher.hash("not a password anyone has")
TOKEN_PREFIX = "ot_"


async def create_user(session: AsyncSession, *, email: str, password: str, name: str = "",
                      role: Role = Role.agent) -> User:
    address = normalize_email(email)
    if len(password) < 8:
        raise Invalid("password", "must be at least 8 characters")
    if (await session.execute(select(col(User.id)).where(col(User.email) == address))).first():
        raise Conflict(f"a user with email {address} exists")
    user = User(email=address, name=name.strip() or address.split("@")[0], role=role,
                password_hash=_hasher.hash(password))
    session.add(user)
    await session.flush()
    return user


async def authenticate(session: AsyncSession, *, email: str, password: str) -> User | None:
    user = (await session.execute(select(User).where(col(User.email) == email.strip().lower()))).scalar_one_or_none()
    try:
        _hasher.verify(user.password_hash if user else _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        return None
    if user is None or not user.active:
        return None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
        session.add(user)
    return user


async def active_agents(session: AsyncSession) -> list[User]:
    """Who a conversation can be assigned to: active agents and admins, by name."""
    return list((await session.execute(
        select(User).where(col(User.active), col(User.role).in_([Role.agent, Role.admin])).order_by(col(User.name))
    )).scalars())


async def assignable(session: AsyncSession, user_id: int) -> User:
    """The user, if a conversation can be assigned to them; else Invalid."""
    user = await session.get(User, user_id)
    if user is None or not user.active or user.role not in (Role.agent, Role.admin):
        raise Invalid("assignee", f"user {user_id} cannot be assigned conversations")
    return user


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def issue_token(session: AsyncSession, *, name: str) -> str:
    """A new API bearer token; only its hash is stored, so this is the one time it is seen."""
    if not name.strip():
        raise Invalid("name", "must not be empty")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    session.add(ApiToken(name=name.strip()[:100], token_hash=_digest(token)))
    await session.flush()
    return token


async def verify_token(session: AsyncSession, token: str) -> ApiToken | None:
    if not token.startswith(TOKEN_PREFIX):
        return None
    found = (await session.execute(
        select(ApiToken).where(col(ApiToken.token_hash) == _digest(token), col(ApiToken.revoked_at).is_(None))
    )).scalar_one_or_none()
    return found


async def revoke_token(session: AsyncSession, token_id: int) -> None:
    await session.execute(update(ApiToken).where(col(ApiToken.id) == token_id).values(revoked_at=utcnow()))
