"""Keyset cursors: the (time, id) of the last row a page showed, opaque to the client."""

import base64
from datetime import datetime

from inbox.errors import Invalid


def encode(at: datetime, row_id: int) -> str:
    raw = f"{at.isoformat()}|{row_id}"
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode(cursor: str, *, field: str) -> tuple[datetime, int]:
    """The (time, id) in a cursor; anything this app did not hand out is Invalid for `field`."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        at, _, row_id = raw.partition("|")
        return datetime.fromisoformat(at), int(row_id)
    except (ValueError, UnicodeDecodeError) as error:
        raise Invalid(field, "not a cursor this app gave out") from error
