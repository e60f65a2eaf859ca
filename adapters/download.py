"""Fetching a provider's file for the media worker: streamed, capped, and failures classified."""

import httpx

from inbox.events import FetchedFile, FetchFailed


async def download(url: str, *, limit: int, auth: httpx.Auth | tuple[str, str] | None = None,
                   read_timeout: float = 60.0, provider: str = "the provider") -> FetchedFile:
    """The file at `url`; stops reading as soon as it passes `limit` bytes.

    Redirects are followed (Twilio answers with one to its CDN); httpx drops the credentials when a
    redirect leaves the origin, so they never reach the CDN.
    """
    try:
        async with httpx.AsyncClient(auth=auth, follow_redirects=True, timeout=read_timeout) as client, \
                client.stream("GET", url) as response:
            if response.status_code >= 400:
                # An expired or deleted file stays gone; a struggling server may recover.
                transient = response.status_code == 429 or response.status_code >= 500
                raise FetchFailed(f"{provider} answered {response.status_code}", transient=transient)
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
            content_type = response.headers.get("content-type", "").split(";")[0].strip() or None
            return FetchedFile(b"".join(chunks), content_type=content_type)
    except httpx.HTTPError as error:
        raise FetchFailed(f"{provider} could not be reached ({type(error).__name__})", transient=True) from error
