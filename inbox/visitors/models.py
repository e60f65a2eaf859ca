from datetime import datetime

from sqlalchemy import Index
from sqlmodel import Field, SQLModel

from inbox.db import UTCDateTime, utcnow


class Visitor(SQLModel, table=True):
    """One browser chatting through the web widget: its token names this row, never a customer.

    The row says which web chat address the browser writes from; the identity (and a customer) is
    made by ingest on the first message, so a page view that never chats leaves no customer behind.
    Several visitors (a shopper's phone and laptop) may share one address; each keeps its own
    presence and its own run of single-use tickets for the websocket.
    """

    __tablename__ = "widget_visitor"
    __table_args__ = (Index("ix_widget_visitor_client_created", "client", "created_at"),)

    id: int | None = Field(default=None, primary_key=True)
    # Random and public: it travels in the browser's token, signed.
    key: str = Field(max_length=32, unique=True)
    # The web chat identity's address: "visitor:<key>", or the shopper's email or "shop:<id>" when signed.
    address: str = Field(max_length=320, index=True)
    kind: str = Field(max_length=10)
    name: str = Field(default="", max_length=200)
    # Came with the shop's signature: the token alone reopens nothing once the shopper signed out.
    verified: bool = False
    # A keyed hash of the client address, for the limit on new anonymous visitors; never the address.
    client: str = Field(default="", max_length=64)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    # A socket is open until then (renewed while it stays open): replies go out by email once it passes.
    online_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # Tickets are numbered; each opens one socket, and a number is never accepted twice.
    tickets_issued: int = 0
    ticket_used: int = 0
