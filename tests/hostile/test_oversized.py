"""Oversized bodies get 413 before they are read whole: over a raw socket, the answer arrives while
most of the body is still unsent. And a mail over SMTP_MAX_MESSAGE_BYTES gets 552 and is not kept."""

import asyncio
import smtplib
import time
from pathlib import Path

from inbox.agents.models import Role
from tests.hostile.conftest import (
    MAX_ATTACHMENT_BYTES,
    MAX_REQUEST_BYTES,
    MAX_UPLOAD_BYTES,
    SMTP_LIMIT,
    SUPPORT,
    Live,
)
from tests.soak.figures import record
from tests.web.users import PASSWORD, csrf_of, make_user
from web.app import COMPOSER_FILES

HUGE = 1024 * 1024 * 1024  # what the request claims; a small part of it is ever sent
ANSWER_SECONDS = 5


async def _status(reader: asyncio.StreamReader) -> int:
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), ANSWER_SECONDS)
    return int(head.split(b" ", 2)[1])


async def _declared(live: Live, path: str, headers: str, first_part: bytes) -> tuple[int, int]:
    """(status, bytes sent) for a request whose Content-Length says 1 GB, of which only the first part is sent."""
    reader, writer = await asyncio.open_connection("127.0.0.1", live.port)
    try:
        writer.write(f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {HUGE}\r\n{headers}\r\n".encode()
                     + first_part)
        await writer.drain()
        return await _status(reader), len(first_part)
    finally:
        writer.close()


async def _chunked(live: Live, path: str, headers: str, first_part: bytes, limit: int) -> tuple[int, int]:
    """(status, bytes sent) for a chunked body that never ends: chunks go out until the answer comes."""
    reader, writer = await asyncio.open_connection("127.0.0.1", live.port)
    sent = 0
    try:
        writer.write(f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n{headers}\r\n".encode())
        chunk = 16 * 1024
        body = first_part + b"x" * (limit * 4)
        answer = asyncio.ensure_future(_status(reader))
        while sent < len(body) and not answer.done():
            piece = body[sent:sent + chunk]
            writer.write(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
            await writer.drain()
            sent += len(piece)
            await asyncio.sleep(0.01)
        # Never the last chunk: a server that waits for the end of the body would never answer.
        return await answer, sent
    finally:
        writer.close()


def _files_kept(live: Live) -> int:
    root: Path = live.app.state.files.root
    return sum(1 for path in root.rglob("*") if path.is_file()) if root.exists() else 0


def _visitor_token(live: Live) -> str:
    with live.client() as client:
        started = client.post("/widget/session", json={})
    assert started.status_code == 200, started.text
    return str(started.json()["token"])


MULTIPART_HEAD = (b"--b0undary\r\nContent-Disposition: form-data; name=\"file\"; filename=\"kutu.png\"\r\n"
                  b"Content-Type: image/png\r\n\r\n\x89PNG\r\n\x1a\n")


def _signed_in_cookie(live: Live, role: Role) -> str:
    email = live.run(make_user(live.app.state.sessions, role))
    with live.client() as client:
        form = client.get("/login")
        client.post("/login", data={"email": email, "password": PASSWORD, "csrf_token": csrf_of(form.text)})
        return f"Cookie: onethread_session={client.cookies['onethread_session']}\r\n"


async def test_oversized_bodies_get_413_before_they_are_read_whole(live: Live) -> None:
    token = _visitor_token(live)
    agent, store = _signed_in_cookie(live, Role.agent), _signed_in_cookie(live, Role.store)
    before, files_before = live.rows(), _files_kept(live)
    form = "Content-Type: application/x-www-form-urlencoded\r\nX-Twilio-Signature: AAAA\r\n"
    multipart = "Content-Type: multipart/form-data; boundary=b0undary\r\n"
    upload = f"{multipart}Authorization: Bearer {token}\r\n"
    composer = MAX_ATTACHMENT_BYTES * COMPOSER_FILES
    started = time.perf_counter()
    whatsapp = "/webhooks/twilio/whatsapp"
    cases = {
        "webhook, Content-Length 1 GB": await _declared(live, whatsapp, form, b"Body=" + b"x" * 1000),
        "webhook, chunked": await _chunked(live, whatsapp, form, b"Body=", MAX_REQUEST_BYTES),
        "upload, Content-Length 1 GB": await _declared(live, "/widget/uploads", upload, MULTIPART_HEAD),
        "upload, chunked": await _chunked(live, "/widget/uploads", upload, MULTIPART_HEAD, MAX_UPLOAD_BYTES),
        "agent reply with files, Content-Length 1 GB": await _declared(
            live, "/inbox/threads/1/messages", multipart + agent, MULTIPART_HEAD),
        "agent reply with files, chunked": await _chunked(
            live, "/inbox/threads/1/messages", multipart + agent, MULTIPART_HEAD, composer),
        # The form would be parsed (and spooled to disk) before the route's sign-in check could refuse it:
        # whoever may not write a reply gets the default limit, not the composer's.
        "anonymous reply with files, Content-Length 1 GB": await _declared(
            live, "/inbox/threads/1/messages", multipart, MULTIPART_HEAD),
        "anonymous reply with files, chunked": await _chunked(
            live, "/inbox/threads/1/messages", multipart, MULTIPART_HEAD, composer),
        "store reply with files, chunked": await _chunked(
            live, "/inbox/threads/1/messages", multipart + store, MULTIPART_HEAD, composer),
        "sign-in form, Content-Length 1 GB": await _declared(
            live, "/login", "Content-Type: application/x-www-form-urlencoded\r\n", b"email="),
        "API, chunked": await _chunked(live, "/api/v1/customers/1/messages", "Content-Type: application/json\r\n", b"{",
                                       MAX_REQUEST_BYTES),
    }
    seconds = time.perf_counter() - started
    limits = {"webhook": MAX_REQUEST_BYTES, "upload": MAX_UPLOAD_BYTES, "agent reply with files": composer,
              "anonymous reply with files": MAX_REQUEST_BYTES, "store reply with files": MAX_REQUEST_BYTES,
              "sign-in form": MAX_REQUEST_BYTES, "API": MAX_REQUEST_BYTES}
    for name, (status, sent) in cases.items():
        record(f"hostile input, oversized {name}",
               f"answered {status} after {sent:,} bytes sent (limit {limits[name.split(',')[0]]:,})")
    record("hostile input, oversized bodies", f"{len(cases)} requests, all 413 in {seconds:.2f} s, "
           f"writes after rejection: {sum(abs(live.rows()[t] - n) for t, n in before.items())}")
    assert {name: status for name, (status, _) in cases.items()} == dict.fromkeys(cases, 413)
    for name, (_, sent) in cases.items():
        # The answer came with at most one chunk past the limit sent, far from the whole body.
        assert sent <= limits[name.split(",")[0]] + 64 * 1024, (name, sent)
    # An agent may send the composer's files: the refusal came only past the larger limit.
    assert cases["agent reply with files, chunked"][1] > composer
    assert live.rows() == before and _files_kept(live) == files_before


async def test_the_app_still_answers_after_refusing(live: Live) -> None:
    await _declared(live, "/webhooks/telegram", "Content-Type: application/json\r\n", b"{")
    with live.client() as client:
        assert client.get("/healthz").status_code == 200


def _smtp(live: Live, raw: bytes) -> tuple[int, int]:
    """(answer to MAIL FROM with SIZE over the limit, answer to a DATA over the limit), in one session."""
    with smtplib.SMTP("127.0.0.1", live.smtp_port, timeout=15) as client:
        client.ehlo()
        declared = client.docmd("MAIL FROM:<customer@example.net>", f"SIZE={SMTP_LIMIT * 10}")[0]
        client.rset()
        try:
            client.sendmail("customer@example.net", [SUPPORT], raw)
            data = 250
        except smtplib.SMTPDataError as error:
            data = error.smtp_code
        except smtplib.SMTPSenderRefused as error:
            data = error.smtp_code
        # The session goes on: the refusal did not cost the sender its connection.
        assert client.noop()[0] == 250
        return declared, data


async def test_a_mail_over_the_size_limit_is_552_and_not_kept(live: Live) -> None:
    before = live.rows()
    raw = (b"From: customer@example.net\r\nTo: " + SUPPORT.encode() + b"\r\nSubject: big\r\n\r\n"
           + (b"x" * 76 + b"\r\n") * (SMTP_LIMIT // 78 + 10))
    declared, data = await asyncio.to_thread(_smtp, live, raw)
    record("hostile input, SMTP over SMTP_MAX_MESSAGE_BYTES",
           f"MAIL FROM SIZE= over the limit: {declared}; DATA of {len(raw):,} bytes (limit {SMTP_LIMIT:,}): {data}; "
           f"writes: {sum(abs(live.rows()[t] - n) for t, n in before.items())}")
    assert (declared, data) == (552, 552)
    assert live.rows() == before
