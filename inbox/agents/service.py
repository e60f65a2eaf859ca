import hashlib
import secrets
from datetime import datetime

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from inbox.agents.models import ApiToken, Role, SignInSession, User
from inbox.customers.addresses import normalize_email
from inbox.db import utcnow
from inbox.errors import Conflict, Invalid, NotFound

_hasher = PasswordHasher()
# Verifying against this when the email is unknown keeps sign-in time the same either way.
_DUMMY_HASH = _hasher.hash("not a password anyone has")
TOKEN_PREFIX = "ot_"


MIN_PASSWORD = 8
LAST_ADMIN = "the last active admin must stay an active admin"


def _check_password(password: str, field: str = "password") -> None:
    if len(password) < MIN_PASSWORD:
        raise Invalid(field, f"must be at least {MIN_PASSWORD} characters")


async def create_user(session: AsyncSession, *, email: str, password: str, name: str = "",
                      role: Role = Role.agent) -> User:
    address = normalize_email(email)
    _check_password(password)
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


# Who a conversation can be assigned to: active agents and admins.
ASSIGNABLE = (col(User.active), col(User.role).in_([Role.agent, Role.admin]))
_ACTIVE_AGENTS = select(User).where(*ASSIGNABLE).order_by(col(User.name))


async def active_agents(session: AsyncSession) -> list[User]:
    """Who a conversation can be assigned to, by name."""
    return list((await session.execute(_ACTIVE_AGENTS)).scalars())


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


async def get_user(session: AsyncSession, user_id: int) -> User:
    user = await session.get(User, user_id)
    if user is None:
        raise NotFound("user", user_id)
    return user


async def all_users(session: AsyncSession) -> list[tuple[User, datetime | None]]:
    """Every user with their last sign-in; the session table is indexed by user, and users are few."""
    last = (select(col(SignInSession.user_id), func.max(col(SignInSession.created_at)).label("at"))
            .group_by(col(SignInSession.user_id)).subquery())
    rows = await session.execute(select(User, last.c.at).outerjoin(last, last.c.user_id == col(User.id))
                                 .order_by(col(User.active).desc(), col(User.name), col(User.id)))
    return [(user, at) for user, at in rows]


async def _keep_an_admin(session: AsyncSession, user: User) -> None:
    if user.role != Role.admin or not user.active:
        return
    others = (await session.execute(select(func.count()).select_from(User).where(
        col(User.role) == Role.admin, col(User.active).is_(True), col(User.id) != user.id))).scalar_one()
    if not others:
        raise Invalid("role", LAST_ADMIN)


async def set_role(session: AsyncSession, user_id: int, role: Role) -> User:
    user = await get_user(session, user_id)
    if role != Role.admin:
        await _keep_an_admin(session, user)
    user.role = role
    session.add(user)
    await session.flush()
    return user


async def set_active(session: AsyncSession, user_id: int, active: bool) -> User:
    """Deactivating also ends every sign-in session of the user at once, not at their next idle timeout."""
    user = await get_user(session, user_id)
    if not active:
        await _keep_an_admin(session, user)
        await session.execute(update(SignInSession).where(col(SignInSession.user_id) == user_id,
                                                          col(SignInSession.ended_at).is_(None))
                              .values(ended_at=utcnow()))
    user.active = active
    session.add(user)
    await session.flush()
    return user


async def update_profile(session: AsyncSession, user_id: int, *, name: str, locale: str | None) -> User:
    user = await get_user(session, user_id)
    if not name.strip():
        raise Invalid("name", "must not be empty")
    user.name, user.locale = name.strip()[:200], (locale or None)
    session.add(user)
    await session.flush()
    return user


async def change_password(session: AsyncSession, user_id: int, *, current: str, new: str) -> None:
    user = await get_user(session, user_id)
    try:
        _hasher.verify(user.password_hash, current)
    except (VerificationError, InvalidHashError):
        raise Invalid("current_password", "is not your current password") from None
    _check_password(new, "new_password")
    user.password_hash = _hasher.hash(new)
    session.add(user)
    await session.flush()
