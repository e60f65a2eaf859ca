"""Downloading a file a customer sent: only from Meta's CDN, never more than the limit."""

from urllib.parse import urljoin, urlsplit

import httpx

from adapters.base import FetchedFile, FetchFailed

# Attachment URLs in webhooks point at these; anything else in a reference is not Meta's to give.
CDN_SUFFIXES = ("fbcdn.net", "fbsbx.com")
_MAX_REDIRECTS = 5


def allowed(url: str, *, graph_base_url: str) -> bool:
    """The URL is Meta's CDN over HTTPS, or the configured Graph host itself (a loopback fake in tests)."""
    parts, graph = urlsplit(url), urlsplit(graph_base_url)
    try:
        same_origin = (parts.scheme, parts.hostname, parts.port) == (graph.scheme, graph.hostname, graph.port)
    except ValueError:  # a port that is not a number
        return False
    if same_origin and parts.hostname:
        return True
    host = (parts.hostname or "").lower()
    return parts.scheme == "https" and any(host == suffix or host.endswith("." + suffix) for suffix in CDN_SUFFIXES)


async def fetch(client: httpx.AsyncClient, reference: str, *, limit: int, graph_base_url: str) -> FetchedFile:
    url = reference
    for _ in range(_MAX_REDIRECTS + 1):
        if not allowed(url, graph_base_url=graph_base_url):
            raise FetchFailed(f"not a Meta media URL: {urlsplit(url).hostname or url!r}", transient=False)
        try:
            # No token goes with it: CDN links are signed in themselves, and the token is not the CDN's.
            async with client.stream("GET", url, follow_redirects=False) as response:
                if response.is_redirect and "location" in response.headers:
                    url = urljoin(url, response.headers["location"])
                    continue
                if response.status_code >= 500 or response.status_code == 429:
                    raise FetchFailed(f"Meta's CDN answered HTTP {response.status_code}", transient=True)
                if not response.is_success:
                    raise FetchFailed(f"Meta's CDN answered HTTP {response.status_code}: the link has expired "
                                      "or the file was removed", transient=False)
                data = await _read(response, limit)
                content_type = response.headers.get("content-type", "").split(";")[0].strip() or None
                return FetchedFile(data=data, content_type=content_type)
        except httpx.TransportError as error:
            raise FetchFailed(f"Meta's CDN unreachable: {type(error).__name__}", transient=True) from error
    raise FetchFailed("too many redirects", transient=False)


async def _read(response: httpx.Response, limit: int) -> bytes:
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise too_large(limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        size += len(chunk)
        if size > limit:
            raise too_large(limit)
        chunks.append(chunk)
    return b"".join(chunks)


def too_large(limit: int) -> FetchFailed:
    return FetchFailed(f"larger than {limit / 1_048_576:.3g} MB, the most this inbox stores", transient=False)
