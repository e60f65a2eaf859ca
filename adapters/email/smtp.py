"""The built-in SMTP listener (aiosmtpd), on the app's own event loop.

Each mail is handed to an injected `deliver` (web/ wires it to parse → ingest → commit) and
answered 250 only once that returns: what the sending MTA deletes from its queue is already
stored. Recipients other than the support addresses get 550 (no open relay); a mail over
SMTP_MAX_MESSAGE_BYTES gets aiosmtpd's 552; a mail that cannot be kept gets a 5xx that says why,
and trouble on our side (the database) a 451, which the sender retries for days.
"""

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiosmtpd.smtp import SMTP, Envelope, Session

from adapters.base import BadPayload, RawRequest
from adapters.email.adapter import ENVELOPE_FROM, ENVELOPE_TO

log = logging.getLogger(__name__)

Deliver = Callable[[RawRequest], Awaitable[None]]
ACCEPTED = "250 2.0.0 OK: kept"
RETRY_LATER = "451 4.3.0 Temporary failure on our side: please try again later"


def _one_line(text: str) -> str:
    # A reply line must not break the protocol: no CR/LF, and short.
    return " ".join(text.split())[:400]


class Handler:
    def __init__(self, *, accepts: Callable[[str], bool], deliver: Deliver) -> None:
        self._accepts = accepts
        self._deliver = deliver

    async def handle_RCPT(self, server: SMTP, session: Session, envelope: Envelope, address: str,
                          rcpt_options: list[str]) -> str:
        if not self._accepts(address):
            return f"550 5.7.1 <{_one_line(address)}>: relay access denied, this server only takes mail for its shop"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.content if isinstance(envelope.content, bytes) else envelope.original_content or b""
        raw = RawRequest(method="SMTP", path="", headers={ENVELOPE_FROM: envelope.mail_from or "",
                                                          ENVELOPE_TO: ",".join(envelope.rcpt_tos)},
                         body=content)
        try:
            await self._deliver(raw)
        except BadPayload as error:
            return f"554 5.6.0 {_one_line(str(error))}"
        except Exception:
            log.exception("smtp: a mail from %s could not be stored; answered 451", envelope.mail_from)
            return RETRY_LATER
        return ACCEPTED


async def listen(handler: Handler, *, host: str, port: int, hostname: str, max_bytes: int) -> asyncio.Server:
    """Start listening; the caller closes the returned server."""
    loop = asyncio.get_running_loop()

    def protocol() -> Any:
        # hostname given: aiosmtpd would otherwise look up this host's FQDN for every connection.
        return SMTP(handler, hostname=hostname, ident="onethread", data_size_limit=max_bytes,
                    enable_SMTPUTF8=True, decode_data=False)

    return await loop.create_server(protocol, host=host, port=port)
