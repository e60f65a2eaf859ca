"""What Twilio's products share: the X-Twilio-Signature check and fetching a file Twilio keeps.

WhatsApp (Messaging) and Voice webhooks are signed the same way, over the URL Twilio called and the
decoded form fields (PROTOCOLS §1.2); media and recordings are fetched with the account's credentials.
"""

import asyncio
import hmac
from urllib.parse import urlsplit

import aiohttp
from twilio.base.exceptions import TwilioRestException
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.request_validator import RequestValidator
from twilio.rest import Client

from adapters.base import BadSignature, CheckFailed, FetchedFile, FetchFailed, RawRequest, parse_form
from adapters.download import download


class _Form(dict[str, list[str]]):
    # RequestValidator reads repeated fields through getall() (the MultiDict shape).
    def getall(self, name: str) -> list[str]:
        return self[name]


def verify(raw: RawRequest, *, auth_token: str, public_base_url: str) -> None:
    if not auth_token:
        raise BadSignature("TWILIO_AUTH_TOKEN is not set")
    if not public_base_url:
        raise BadSignature("PUBLIC_BASE_URL is not set, so the URL Twilio signed cannot be rebuilt")
    signature = header(raw, "x-twilio-signature")
    if not signature:
        raise BadSignature("X-Twilio-Signature header missing")
    # Rebuilt from the configured public URL: behind a TLS proxy the request says http://
    # while Twilio signed https://.
    url = public_base_url.rstrip("/") + raw.path
    if raw.query_string:
        url += "?" + raw.query_string
    validator = RequestValidator(auth_token)
    fields = _Form(form(raw))
    # validate() always signs the URL twice, with and without an explicit port; the URL as
    # configured is the one Twilio signs, so try it alone first and fall back on a mismatch.
    expected = validator.compute_signature(url, fields)
    if not (hmac.compare_digest(expected.encode(), signature.encode()) or validator.validate(url, fields, signature)):
        raise BadSignature("X-Twilio-Signature does not match")


async def fetch(reference: str, *, limit: int, account_sid: str, auth_token: str, api_base_url: str,
                read_timeout: float) -> FetchedFile:
    host = urlsplit(reference).hostname or ""
    ours = urlsplit(api_base_url).hostname or ""
    # The account's credentials go to Twilio only: any other URL in a MediaUrl is refused. Its
    # redirect to the CDN is followed without them.
    if not (host == ours or host == "twilio.com" or host.endswith(".twilio.com")):
        raise FetchFailed(f"the media URL is not on Twilio ({host or 'no host'})", transient=False)
    return await download(reference, limit=limit, auth=(account_sid, auth_token), provider="Twilio",
                          read_timeout=read_timeout)


def client(account_sid: str, auth_token: str, api_base_url: str) -> Client:
    made = Client(account_sid, auth_token, http_client=AsyncTwilioHttpClient())
    made.api.base_url = api_base_url.rstrip("/")
    return made


async def account_name(twilio: Client, account_sid: str, *, api_base_url: str, seconds: float) -> str:
    """"'Acme' (active)": what `onethread channels check` says of the account; CheckFailed if Twilio refuses."""
    try:
        async with asyncio.timeout(seconds):
            account = await twilio.api.v2010.accounts(account_sid).fetch_async()
    except TwilioRestException as error:
        raise CheckFailed(f"Twilio refused: {error.code or error.status} {error.msg}") from error
    except (TimeoutError, aiohttp.ClientError, OSError) as error:
        raise CheckFailed(f"Twilio unreachable at {api_base_url}: {error or type(error).__name__}") from error
    return f"{account.friendly_name!r} ({account.status})"


def header(raw: RawRequest, name: str) -> str:
    return next((value for key, value in raw.headers.items() if key.lower() == name), "")


def form(raw: RawRequest) -> dict[str, list[str]]:
    if raw.form or not raw.body:
        return raw.form
    return parse_form(raw.body)


def field(fields: dict[str, list[str]], name: str) -> str | None:
    values = fields.get(name)
    return values[0] if values else None
