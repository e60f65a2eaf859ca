"""Signed, expiring links to a stored file, for a provider that fetches a reply's file itself.

Twilio sends WhatsApp media by downloading it from a URL we give; the link carries a signature
instead of a session, and stops working after a while.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import quote

from inbox.db import utcnow
from inbox.signing import sign, valid

# Twilio fetches at once; an hour covers its retries without leaving links open for long.
LINK_LIFETIME = timedelta(hours=1)


@dataclass(frozen=True, slots=True)
class FileLinks:
    base_url: str
    key: bytes

    def url_for(self, attachment_id: int, filename: str, *, now: datetime | None = None) -> str:
        expires = str(int(((now or utcnow()) + LINK_LIFETIME).timestamp()))
        signature = sign(self.key, "file", str(attachment_id), expires)
        return (f"{self.base_url.rstrip('/')}/files/{attachment_id}/{quote(filename, safe='')}"
                f"?expires={expires}&signature={signature}")

    def allows(self, attachment_id: int, expires: str, signature: str, *, now: datetime) -> bool:
        if not expires.isdigit() or int(expires) < now.timestamp():
            return False
        return valid(self.key, signature, "file", str(attachment_id), expires)
