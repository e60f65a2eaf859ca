from datetime import datetime
from enum import StrEnum

from sqlmodel import Field, SQLModel

from inbox.db import UTCDateTime, utcnow


class Role(StrEnum):
    admin = "admin"
    agent = "agent"
    store = "store"


class User(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(max_length=320, unique=True)
    name: str = Field(default="", max_length=200)
    password_hash: str = Field(default="", max_length=200)
    role: str = Field(default=Role.agent, max_length=10)
    locale: str | None = Field(default=None, max_length=10)
    active: bool = True
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class Team(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=100, unique=True)


class TeamMember(SQLModel, table=True):
    team_id: int = Field(foreign_key="team.id", primary_key=True)
    user_id: int = Field(foreign_key="user.id", primary_key=True)


class ApiToken(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=100)
    # sha256 of the token: a leaked database does not leak working tokens.
    token_hash: str = Field(max_length=64, unique=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class Tag(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=60, unique=True)
    color: str = Field(default="", max_length=20)


class CannedResponse(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    shortcut: str = Field(max_length=60, unique=True)
    title: str = Field(default="", max_length=200)
    body: str = ""


class SignInSession(SQLModel, table=True):
    """A browser signed in as a user: the cookie carries a random token, the table only its hash."""

    __tablename__ = "sign_in_session"

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(max_length=64, unique=True)
    user_id: int = Field(foreign_key="user.id", index=True)
    # Synchroniser token for every state-changing form and htmx request of this session.
    csrf_token: str = Field(max_length=64)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    last_seen_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    ended_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # The inbox's live socket is open until then (renewed while it stays open): "an agent is online".
    live_until: datetime | None = Field(default=None, sa_type=UTCDateTime)


class SignInFailure(SQLModel, table=True):
    """One failed sign-in, by email and by client address: the rate limit counts these."""

    __tablename__ = "sign_in_failure"

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=400, index=True)
    at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
