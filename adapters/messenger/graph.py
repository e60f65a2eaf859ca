"""What the Graph API's refusals mean: try again later, or tell the agent why not (PROTOCOLS §3.3)."""

from typing import Any

import httpx

from inbox.events import SendFailed

OUTSIDE_WINDOW = "Outside Messenger's 24-hour window (7 days with HUMAN_AGENT)"
# (code, subcode) first, then the code alone.
_KNOWN: dict[tuple[int, int | None], str] = {
    (10, 2018278): OUTSIDE_WINDOW,
    (551, None): "This person isn't available right now (they blocked the Page or left Messenger)",
    (190, None): "The Page access token is invalid or expired: set META_PAGE_ACCESS_TOKEN again",
    (100, 2018001): "No matching user: this PSID does not belong to the Page",
    (200, 2018108): "The app is in development mode and this person is not one of its testers",
}
# Rate limits (4, 17, 32, 613) and Meta's own "temporary" errors (1, 2) clear by themselves.
_TRANSIENT = {1, 2, 4, 17, 32, 613}


class GraphError(Exception):
    def __init__(self, status: int, code: int | None, subcode: int | None, message: str,
                 retry_after: float | None) -> None:
        super().__init__(message)
        self.status, self.code, self.subcode, self.message = status, code, subcode, message
        self.retry_after = retry_after

    @property
    def transient(self) -> bool:
        return self.status >= 500 or self.status == 429 or self.code in _TRANSIENT

    def explained(self) -> str:
        known = _KNOWN.get((self.code or 0, self.subcode)) or _KNOWN.get((self.code or 0, None))
        if known:
            return f"{known}: {self.message}"
        return f"Graph error {self.code if self.code is not None else self.status}: {self.message}"

    def as_send_failed(self) -> SendFailed:
        return SendFailed(self.explained(), transient=self.transient, retry_after=self.retry_after)


def raise_for_error(response: httpx.Response) -> Any:
    """The JSON answer of a 2xx; GraphError for anything else, with Meta's own words when it gave any."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if response.is_success and isinstance(body, dict):
        return body
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        error = {}
    message = str(error.get("message") or f"HTTP {response.status_code} {response.reason_phrase}".strip())
    raise GraphError(response.status_code, _int(error.get("code")), _int(error.get("error_subcode")), message,
                     _retry_after(response.headers.get("retry-after")))


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _retry_after(value: str | None) -> float | None:
    try:
        return max(float(value), 0.0) if value else None
    except ValueError:
        return None
