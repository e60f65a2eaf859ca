"""The server's own secret, and HMAC signatures made with it.

Links the server hands to someone outside (a provider fetching a reply's file) carry a signature
instead of a session. SECRET_KEY must be the same on every process behind a load balancer; a single
process without one makes a random key once and keeps it in the data folder.
"""

import contextlib
import hashlib
import hmac
import os
import secrets
import tempfile
from pathlib import Path


def secret_key(configured: str, data_dir: Path) -> bytes:
    if configured:
        return configured.encode()
    path = data_dir / "secret_key"
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=data_dir)
        with os.fdopen(handle, "w") as out:
            out.write(secrets.token_hex(32))
        # A hard link never replaces: of two processes starting together, one key wins, whole.
        with contextlib.suppress(FileExistsError):
            os.link(temporary, path)
        os.unlink(temporary)
    return path.read_text().strip().encode()


def sign(key: bytes, *parts: str) -> str:
    return hmac.new(key, "\x1f".join(parts).encode(), hashlib.sha256).hexdigest()


def valid(key: bytes, signature: str, *parts: str) -> bool:
    return hmac.compare_digest(sign(key, *parts).encode(), signature.encode())
