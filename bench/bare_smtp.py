"""The baseline for bench.email: aiosmtpd alone, answering 250 to every mail it is handed.

    python -m bench.bare_smtp PORT
"""

import asyncio
import sys

from aiosmtpd.smtp import SMTP, Envelope, Session


class Accept:
    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        return "250 2.0.0 OK"


async def serve(port: int) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: SMTP(Accept(), hostname="bench", ident="bare"), "127.0.0.1", port)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(serve(int(sys.argv[1])))
