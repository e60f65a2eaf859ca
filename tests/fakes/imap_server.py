"""A loopback IMAP4rev1 server with one mailbox: the subset a poller uses, answered as servers do.

LOGIN, CAPABILITY, SELECT/EXAMINE (with UIDVALIDITY), UID SEARCH, UID FETCH (BODY.PEEK[] as a
literal), NOOP, LOGOUT. UIDs rise as mail is `deliver`ed; `rebuild()` renumbers the mailbox under
a new UIDVALIDITY, as a server does after a mailbox is restored. "N:*" matches the newest message
even when its UID is below N, as RFC 3501 says, so a client must filter.
"""

import asyncio
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

USER, PASSWORD = "destek@acme.example", "imap-pass-ğüş"
_COMMAND = re.compile(rb"^(\S+) (?:(UID) )?(\S+)(?: (.*))?$")


@dataclass
class ImapFake:
    user: str = USER
    password: str = PASSWORD
    mailbox: str = "INBOX"
    uidvalidity: int = 1_700_000_001
    # (uid, raw mail), in UID order.
    messages: list[tuple[int, bytes]] = field(default_factory=list)
    next_uid: int = 1
    # UIDs each FETCH asked for, and the commands that would change flags or the mailbox.
    fetched: list[int] = field(default_factory=list)
    writes: list[str] = field(default_factory=list)
    logins: int = 0
    port: int = 0
    # Seconds each FETCH takes: lets two pollers be in the middle of the same mail at once.
    fetch_delay: float = 0.0

    def deliver(self, raw: bytes) -> int:
        uid = self.next_uid
        self.messages.append((uid, raw))
        self.next_uid += 1
        return uid

    def rebuild(self) -> None:
        self.uidvalidity += 1
        self.messages = [(index + 1, raw) for index, (_, raw) in enumerate(self.messages)]
        self.next_uid = len(self.messages) + 1

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        def send(*lines: bytes) -> None:
            for line in lines:
                writer.write(line + b"\r\n")

        send(b"* OK [CAPABILITY IMAP4rev1] fake IMAP ready")
        try:
            while line := (await reader.readline()).rstrip(b"\r\n"):
                found = _COMMAND.match(line)
                if found is None:
                    send(b"* BAD unreadable command")
                    continue
                tag, uid, command, args = found.group(1), found.group(2), found.group(3).upper(), found.group(4) or b""
                if command == b"CAPABILITY":
                    send(b"* CAPABILITY IMAP4rev1 AUTH=PLAIN", tag + b" OK CAPABILITY completed")
                elif command == b"LOGIN":
                    self.logins += 1
                    user, _, password = args.decode().partition(" ")
                    if (user.strip('"'), password.strip('"')) == (self.user, self.password):
                        send(tag + b" OK LOGIN completed")
                    else:
                        send(tag + b" NO [AUTHENTICATIONFAILED] Invalid credentials")
                elif command in (b"SELECT", b"EXAMINE"):
                    if args.decode().strip('"') != self.mailbox:
                        send(tag + b" NO [NONEXISTENT] no such mailbox")
                        continue
                    send(b"* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)",
                         b"* %d EXISTS" % len(self.messages), b"* 0 RECENT",
                         b"* OK [UIDVALIDITY %d] UIDs valid" % self.uidvalidity,
                         b"* OK [UIDNEXT %d] Predicted next UID" % self.next_uid,
                         tag + (b" OK [READ-WRITE] SELECT completed" if command == b"SELECT"
                                else b" OK [READ-ONLY] EXAMINE completed"))
                elif uid and command == b"SEARCH":
                    send(b"* SEARCH " + b" ".join(b"%d" % u for u in self._matching(args.decode())),
                         tag + b" OK SEARCH completed")
                elif uid and command == b"FETCH":
                    await asyncio.sleep(self.fetch_delay)
                    wanted, _, parts = args.decode().partition(" ")
                    if "PEEK" not in parts.upper():
                        self.writes.append(f"FETCH {parts}")
                    for sequence, (number, raw) in enumerate(self.messages, start=1):
                        if str(number) == wanted:
                            self.fetched.append(number)
                            writer.write(b"* %d FETCH (UID %d BODY[] {%d}\r\n" % (sequence, number, len(raw)) + raw
                                         + b")\r\n")
                    send(tag + b" OK FETCH completed")
                elif command == b"NOOP":
                    send(tag + b" OK NOOP completed")
                elif command == b"LOGOUT":
                    send(b"* BYE logging out", tag + b" OK LOGOUT completed")
                    await writer.drain()
                    break
                else:
                    self.writes.append(command.decode())
                    send(tag + b" BAD not supported by the fake")
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    def _matching(self, criteria: str) -> list[int]:
        found = re.fullmatch(r"UID (\d+):\*", criteria.strip())
        if found is None or not self.messages:
            return []
        low = int(found.group(1))
        newest = self.messages[-1][0]
        return [number for number, _ in self.messages if min(low, newest) <= number]


@asynccontextmanager
async def running(fake: ImapFake) -> AsyncIterator[ImapFake]:
    server = await asyncio.start_server(fake._serve, host="127.0.0.1", port=0)
    fake.port = server.sockets[0].getsockname()[1]
    try:
        yield fake
    finally:
        server.close()
        await server.wait_closed()
