"""A loopback SMTP relay (aiosmtpd) that catches the mail the app sends, answering as relays do.

It keeps every mail it accepted (envelope and bytes); answers to DATA can be programmed
(`enqueue("451 4.7.1 Greylisted, try again later")`), and it can demand STARTTLS and AUTH like a
provider's submission port.
"""

import asyncio
import email
import email.policy
import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session


@dataclass(frozen=True, slots=True)
class Caught:
    mail_from: str
    rcpt_tos: list[str]
    content: bytes

    @property
    def message(self) -> EmailMessage:
        parsed = email.message_from_bytes(self.content, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        return parsed


@dataclass
class SmtpSink:
    # (username, password) to demand AUTH with; None: no AUTH.
    login: tuple[str, str] | None = None
    # With a context, STARTTLS is offered (and required before AUTH and MAIL).
    tls_context: ssl.SSLContext | None = None
    caught: list[Caught] = field(default_factory=list)
    # Every DATA that reached the sink, accepted or not.
    attempts: int = 0
    authenticated: list[str] = field(default_factory=list)
    port: int = 0
    _answers: list[str] = field(default_factory=list)
    _arrived: asyncio.Condition = field(default_factory=asyncio.Condition)

    def enqueue(self, *answers: str) -> None:
        """The next DATA commands get these replies, in order; then 250 again."""
        self._answers.extend(answers)

    async def wait_for(self, count: int, *, within: float = 10.0) -> list[Caught]:
        async with asyncio.timeout(within), self._arrived:
            await self._arrived.wait_for(lambda: len(self.caught) >= count)
        return self.caught

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.attempts += 1
        if self._answers:
            return self._answers.pop(0)
        content = envelope.original_content or b""
        async with self._arrived:
            self.caught.append(Caught(envelope.mail_from or "", list(envelope.rcpt_tos), content))
            self._arrived.notify_all()
        return "250 2.0.0 Ok: queued as FAKE"

    def _authenticate(self, server: SMTP, session: Session, envelope: Envelope, mechanism: str,
                      auth_data: Any) -> AuthResult:
        if self.login is not None and isinstance(auth_data, LoginPassword) and (
                auth_data.login.decode(), auth_data.password.decode()) == self.login:
            self.authenticated.append(self.login[0])
            return AuthResult(success=True)
        return AuthResult(success=False, handled=False)


@asynccontextmanager
async def running(sink: SmtpSink) -> AsyncIterator[SmtpSink]:
    loop = asyncio.get_running_loop()

    def protocol() -> SMTP:
        tls = sink.tls_context is not None
        return SMTP(sink, hostname="relay.test", tls_context=sink.tls_context, require_starttls=tls,
                    authenticator=sink._authenticate if sink.login else None, auth_required=sink.login is not None,
                    # Plain-text AUTH only when the test runs without TLS at all.
                    auth_require_tls=tls)

    server = await loop.create_server(protocol, host="127.0.0.1", port=0)
    sink.port = server.sockets[0].getsockname()[1]
    try:
        yield sink
    finally:
        server.close()
        await server.wait_closed()
