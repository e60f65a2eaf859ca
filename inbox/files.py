"""Content-addressed attachment store: DATA_DIR/attachments/ab/cd/<sha256>."""

import hashlib
import os
import tempfile
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from inbox.db import after_commit
from inbox.errors import Invalid
from inbox.messages.models import Attachment


@dataclass(frozen=True, slots=True)
class StoredFile:
    """A file already in the store, to be attached to a message."""

    filename: str
    content_type: str
    size: int
    sha256: str


class FileStore:
    def __init__(self, root: Path, *, max_bytes: int) -> None:
        self.root = root
        self.max_bytes = max_bytes

    def path_for(self, sha256: str) -> Path:
        if len(sha256) != 64 or any(ch not in "0123456789abcdef" for ch in sha256):
            raise Invalid("sha256", "not a content address")
        return self.root / sha256[:2] / sha256[2:4] / sha256

    def put(self, data: bytes) -> str:
        if len(data) > self.max_bytes:
            raise Invalid("file", f"larger than {self.max_bytes} bytes")
        digest = hashlib.sha256(data).hexdigest()
        target = self.path_for(digest)
        if target.exists():
            return digest
        target.parent.mkdir(parents=True, exist_ok=True)
        # Write then rename: a crash never leaves a half file under a valid address.
        handle, temporary = tempfile.mkstemp(dir=target.parent)
        with os.fdopen(handle, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, target)
        return digest

    def read(self, sha256: str) -> bytes:
        return self.path_for(sha256).read_bytes()

    def check_size(self, size: int) -> None:
        """Refuse before storing anything: one oversized file rejects the whole message."""
        if size > self.max_bytes:
            raise Invalid("file", f"larger than {self.max_bytes} bytes")


async def drop_unshared(session: AsyncSession, store: FileStore, shas: Collection[str]) -> int:
    """Delete the files no attachment refers to any more, once the transaction commits (kept on a
    rollback); one file may serve several attachments, so a file goes with its last. Returns how many."""
    if not shas:
        return 0
    shared = set((await session.execute(
        select(col(Attachment.sha256)).where(col(Attachment.sha256).in_(list(shas))).distinct())).scalars().all())
    unshared = sorted(set(shas) - shared)

    def _unlink() -> None:
        for sha in unshared:
            store.path_for(sha).unlink(missing_ok=True)

    after_commit(session, _unlink)
    return len(unshared)
