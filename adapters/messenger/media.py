"""Downloading a file a customer sent: only from Meta's CDN, never more than the limit."""

from urllib.parse import urlsplit

import httpx

from adapters.base import FetchedFile
from adapters.download import download

# Attachment URLs in webhooks point at these; anything else in a reference is not Meta's to give.
CDN_SUFFIXES = ("fbcdn.net", "fbsbx.com")


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
    # No token goes with it: CDN links are signed in themselves, and the token is not the CDN's.
    return await download(reference, limit=limit, provider="Meta", client=client,
                          allowed=lambda url: allowed(url, graph_base_url=graph_base_url))
