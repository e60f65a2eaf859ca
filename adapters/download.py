"""Fetching a provider's file for the media worker: streamed, capped, each hop checked, failures classified."""

from collections.abc import Callable
from urllib.parse import urljoin, urlsplit

import httpx

from inbox.events import FetchedFile, FetchFailed

MAX_REDIRECTS = 5


async def download(url: str, *, limit: int, provider: str, client: httpx.AsyncClient | None = None,
                   auth: httpx.Auth | tuple[str, str] | None = None,
                   allowed: Callable[[str], bool] | None = None, read_timeout: float = 60.0) -> FetchedFile:
    """The file at `url`; stops reading as soon as it passes `limit` bytes.

    Redirects are followed by hand: `allowed` (when given) must accept every hop, so a reference
    cannot lead us to an internal address, and `auth` goes to the first origin only, never to the
    CDN a provider redirects to.
    """
    origin = _origin(url)
    own = client is None
    http = client or httpx.AsyncClient(timeout=read_timeout)
    try:
        for _ in range(MAX_REDIRECTS + 1):
            if allowed is not None and not allowed(url):
                raise FetchFailed(f"not a {provider} media URL ({urlsplit(url).hostname or 'no host'})",
                                  transient=False)
            async with http.stream("GET", url, follow_redirects=False,
                                   auth=auth if _origin(url) == origin else None) as response:
                if response.is_redirect and "location" in response.headers:
                    url = urljoin(url, response.headers["location"])
                    continue
                if response.status_code == 429 or response.status_code >= 500:
                    raise FetchFailed(f"{provider} answered HTTP {response.status_code}", transient=True)
                if not response.is_success:
                    # An expired link or a deleted file stays gone.
                    raise FetchFailed(f"{provider} answered HTTP {response.status_code}: the link has expired "
                                      "or the file was removed", transient=False)
                data = await _read(response, limit)
                content_type = response.headers.get("content-type", "").split(";")[0].strip() or None
                return FetchedFile(data, content_type=content_type)
        raise FetchFailed(f"{provider}: too many redirects", transient=False)
    except httpx.TransportError as error:
        raise FetchFailed(f"{provider} could not be reached ({type(error).__name__})", transient=True) from error
    finally:
        if own:
            await http.aclose()


async def _read(response: httpx.Response, limit: int) -> bytes:
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise FetchFailed.too_large(limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        size += len(chunk)
        if size > limit:
            raise FetchFailed.too_large(limit)
        chunks.append(chunk)
    return b"".join(chunks)


def _origin(url: str) -> tuple[str, str | None, int | None]:
    parts = urlsplit(url)
    try:
        return parts.scheme, parts.hostname, parts.port
    except ValueError:  # a port that is not a number
        return parts.scheme, parts.hostname, None
