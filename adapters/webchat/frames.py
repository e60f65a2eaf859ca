"""The web chat's own protocol (PROTOCOLS §6): the frames a widget sends, read through types, and the
frames the server sends, built in one place for live replies and for catch-up alike.

client  hello {ticket, after_id} · message {client_msg_id, text, files[{sha256, name, type}]} ·
        typing {state} · delivered {ids} · read {ids} · ping
server  ready {agents_online, email_known, name} ·
        message {id, author, name, text, ts, files, client_msg_id?, status?} · ack {client_msg_id, id, ts} ·
        typing {name, state} · status {agents_online, email_known} · error {code, message} · pong
"""

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, model_validator

from adapters.base import BadPayload

MAX_TEXT = 5000
MAX_FILES = 5


class _Frame(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class FileRef(_Frame):
    # The upload's content address: only someone who uploaded the bytes can know it.
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    name: str = Field(min_length=1, max_length=255)
    type: str = Field(min_length=3, max_length=120)


class Hello(_Frame):
    type: Literal["hello"]
    ticket: str = Field(max_length=200)
    # A message id, so no larger than the table holds (BIGINT): a larger one was the driver's overflow.
    after_id: int = Field(default=0, ge=0, le=2**63 - 1)


class Message(_Frame):
    type: Literal["message"]
    client_msg_id: str = Field(pattern=r"^[A-Za-z0-9-]{8,64}$")
    text: str = Field(default="", max_length=MAX_TEXT)
    files: list[FileRef] = Field(default_factory=list, max_length=MAX_FILES)

    @model_validator(mode="after")
    def _says_something(self) -> "Message":
        if not self.text.strip() and not self.files:
            raise ValueError("a message needs text or a file")
        return self


class Typing(_Frame):
    type: Literal["typing"]
    state: Literal["typing", "stopped"] = "typing"


class Receipt(_Frame):
    type: Literal["delivered", "read"]
    # The agents' replies this is about, by the ids their frames carried.
    ids: list[int] = Field(min_length=1, max_length=100)


class Ping(_Frame):
    type: Literal["ping"]


ClientFrame = Annotated[Hello | Message | Typing | Receipt | Ping, Field(discriminator="type")]
_CLIENT = TypeAdapter[Hello | Message | Typing | Receipt | Ping](ClientFrame)


def read(data: bytes | str) -> Hello | Message | Typing | Receipt | Ping:
    """A client frame, or BadPayload naming what is wrong (never a KeyError)."""
    try:
        return _CLIENT.validate_json(data)
    except ValidationError as error:
        raise BadPayload.naming(error, "frame") from None


def visitor_topic(address: str) -> str:
    """The hub topic a web chat address's sockets listen on (inbox.realtime topics)."""
    return f"webchat:{address}"


def message(*, message_id: int, author: Literal["visitor", "agent"], name: str, text: str, ts: str,
            files: list[dict[str, Any]], client_msg_id: str | None = None, status: str | None = None) -> dict[str, Any]:
    frame: dict[str, Any] = {"type": "message", "id": message_id, "author": author, "name": name, "text": text,
                             "ts": ts, "files": files}
    if client_msg_id:
        frame["client_msg_id"] = client_msg_id
    if status:
        # A reply replayed after a reconnect says whether the visitor has read it already.
        frame["status"] = status
    return frame


def file(*, attachment_id: int | None, name: str, content_type: str, size: int) -> dict[str, Any]:
    # The link is the server's to sign (web/routes/widget_socket.py), so it never goes stale in a frame.
    return {"attachment_id": attachment_id, "name": name, "type": content_type, "size": size}
