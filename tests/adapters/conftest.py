"""Recorded provider requests as the webhook route hands them to an adapter."""

from pathlib import Path
from urllib.parse import parse_qs, urlencode

from adapters.base import RawRequest

ROOT = Path(__file__).resolve().parent

_CONTENT_TYPES = {".form": "application/x-www-form-urlencoded", ".json": "application/json",
                  ".eml": "message/rfc822"}


def fixture_path(channel: str, name: str) -> Path:
    return ROOT / channel / "fixtures" / name


def load_fixture(channel: str, name: str, *, path: str, headers: dict[str, str] | None = None,
                 query: dict[str, str] | None = None) -> RawRequest:
    """The fixture's exact bytes as a POST to `path`; form bodies decoded the way web/ decodes them."""
    file = fixture_path(channel, name)
    body = file.read_bytes()
    content_type = _CONTENT_TYPES.get(file.suffix, "application/octet-stream")
    form = parse_qs(body.decode("utf-8"), keep_blank_values=True) if file.suffix == ".form" else {}
    all_headers = {"content-type": content_type, **{key.lower(): value for key, value in (headers or {}).items()}}
    return RawRequest(method="POST", path=path, headers=all_headers, query=query or {},
                      query_string=urlencode(query or {}), body=body, form=form)
