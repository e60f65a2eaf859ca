"""Every provider webhook under hostile input, over HTTP into the real app.

Forged or unsigned requests (arbitrary bytes, damaged recordings) get 400 or 403 and leave no row
in any table. Damaged recordings signed again the way the provider signs get an answer, 2xx (the
provider's acknowledgement) or 4xx, never a 5xx, and a 4xx leaves no row either.
"""

import hashlib
import hmac
import json
import string
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from adapters.base import BadPayload, parse_form
from tests.adapters.whatsapp.test_whatsapp import twilio_signature
from tests.hostile.conftest import (
    FIXTURES,
    META_SECRET,
    PUBLIC_BASE_URL,
    TELEGRAM_SECRET,
    TWILIO_TOKEN,
    WIDGET_SECRET,
    Live,
)
from tests.hostile.mutations import budget, damaged_bytes, damaged_form, damaged_json, deeply_nested
from tests.soak.figures import record


def _twilio(target: str, body: bytes) -> dict[str, str]:
    try:
        form = parse_form(body)
    except BadPayload:
        form = {}
    return {"X-Twilio-Signature": twilio_signature(PUBLIC_BASE_URL + target, form, TWILIO_TOKEN)}


def _meta(target: str, body: bytes) -> dict[str, str]:
    return {"X-Hub-Signature-256": "sha256=" + hmac.new(META_SECRET.encode(), body, hashlib.sha256).hexdigest()}


def _telegram(target: str, body: bytes) -> dict[str, str]:
    return {"X-Telegram-Bot-Api-Secret-Token": TELEGRAM_SECRET}


@dataclass(frozen=True)
class Hook:
    name: str
    paths: dict[str, str]  # fixture name prefix → path
    folder: str
    content_type: str
    sign: Callable[[str, bytes], dict[str, str]]
    queries: tuple[str, ...] = ("",)
    # Header names that carry the proof; a forged request has none of them right.
    proof: tuple[str, ...] = ()

    def fixtures(self) -> list[tuple[str, bytes]]:
        """(path, body) for every recorded request of this provider."""
        found = []
        for file in sorted((FIXTURES / self.folder / "fixtures").iterdir()):
            if file.name.startswith("api_"):
                continue
            path = next((p for prefix, p in self.paths.items() if file.name.startswith(prefix)), self.paths[""])
            found.append((path, file.read_bytes()))
        return found

    @property
    def is_json(self) -> bool:
        return self.content_type == "application/json"


CALLER = urlencode({"caller": "+905321234567"})
HOOKS = [
    Hook("WhatsApp (Twilio)", {"status": "/webhooks/twilio/status", "": "/webhooks/twilio/whatsapp"}, "whatsapp",
         "application/x-www-form-urlencoded", _twilio, proof=("X-Twilio-Signature",)),
    Hook("voice (Twilio)", {"": "/webhooks/twilio/voice"}, "phone", "application/x-www-form-urlencoded", _twilio,
         queries=("", f"step=dialed&{CALLER}", f"step=recording&{CALLER}", f"step=transcribed&{CALLER}",
                  "step=recorded", "step=%00%ff", "step=zzz&step=dialed", "caller=" + "9" * 500),
         proof=("X-Twilio-Signature",)),
    Hook("Messenger", {"": "/webhooks/messenger"}, "messenger", "application/json", _meta,
         proof=("X-Hub-Signature-256",)),
    Hook("Telegram", {"": "/webhooks/telegram"}, "telegram", "application/json", _telegram,
         proof=("X-Telegram-Bot-Api-Secret-Token",)),
]


@dataclass
class Tally:
    """What the requests got, as the figures report them."""

    cases: int = 0
    server_errors: int = 0
    accepted: int = 0
    refused: int = 0
    writes_after_rejection: int = 0
    statuses: dict[int, int] = field(default_factory=dict)

    def send(self, live: Live, client: httpx.Client, target: str, body: bytes, headers: dict[str, str]) -> int:
        before = live.rows()
        status = client.post(target, content=body, headers=headers).status_code
        wrote = live.rows() != before
        self.cases += 1
        self.statuses[status] = self.statuses.get(status, 0) + 1
        if status >= 500:
            self.server_errors += 1
        elif status >= 400:
            self.refused += 1
            self.writes_after_rejection += wrote
        else:
            self.accepted += 1
        assert status < 500, (status, target, body[:300])
        assert not (status >= 400 and wrote), (status, target, body[:300])
        return status

    def figures(self) -> str:
        answers = ", ".join(f"{status}×{n}" for status, n in sorted(self.statuses.items()))
        return (f"cases {self.cases}, server errors {self.server_errors}, accepted {self.accepted}, "
                f"refused {self.refused} (answers {answers}), writes after rejection {self.writes_after_rejection}")


_FORGED = st.one_of(st.just(""), st.text(string.ascii_letters + string.digits + "+/=", min_size=1, max_size=64),
                    st.just("sha256=" + "0" * 64))


def _target(path: str, query: str) -> str:
    return f"{path}?{query}" if query else path


@pytest.mark.parametrize("hook", HOOKS, ids=lambda hook: hook.name)
def test_forged_or_unsigned_requests_are_refused_and_leave_no_trace(live: Live, hook: Hook) -> None:
    recorded = hook.fixtures()
    tally = Tally()

    @budget()
    @given(st.data())
    def case(data: st.DataObject) -> None:
        path, original = data.draw(st.sampled_from(recorded))
        body = data.draw(st.binary(max_size=3000) | damaged_bytes(original) | st.just(original))
        query = data.draw(st.sampled_from(hook.queries))
        forged = data.draw(_FORGED)
        headers = {"Content-Type": data.draw(st.sampled_from([hook.content_type, "text/plain", ""]))}
        if forged:
            headers |= dict.fromkeys(hook.proof, forged)
        status = tally.send(live, live.http, _target(path, query), body, headers)
        assert status in (400, 403), status

    try:
        case()
    finally:
        record(f"hostile input, {hook.name} webhook, forged or unsigned", tally.figures())
    assert tally.accepted == 0


@pytest.mark.parametrize("hook", HOOKS, ids=lambda hook: hook.name)
def test_damaged_but_signed_requests_never_get_a_server_error(live: Live, hook: Hook) -> None:
    recorded = hook.fixtures()
    tally = Tally()

    @budget(2)
    @given(st.data())
    def case(data: st.DataObject) -> None:
        path, original = data.draw(st.sampled_from(recorded))
        query = data.draw(st.sampled_from(hook.queries))
        how = data.draw(st.sampled_from(["bytes", "fields"]))
        if how == "bytes":
            body = data.draw(damaged_bytes(original))
        elif hook.is_json:
            body = json.dumps(data.draw(damaged_json(json.loads(original))), ensure_ascii=data.draw(st.booleans())
                              ).encode("utf-8", "surrogatepass")
        else:
            fields = [(name, values[0]) for name, values in parse_form(original).items() for _ in values]
            body = urlencode(data.draw(damaged_form(fields))).encode()
        target = _target(path, query)
        tally.send(live, live.http, target, body, {"Content-Type": hook.content_type, **hook.sign(target, body)})

    try:
        case()
        if hook.is_json:
            # Deep nesting is valid JSON that the standard parser recurses into until it gives up.
            for depth in (100, 5_000, 30_000):
                body = deeply_nested(depth)
                tally.send(live, live.http, hook.paths[""], body,
                           {"Content-Type": hook.content_type, **hook.sign(hook.paths[""], body)})
    finally:
        record(f"hostile input, {hook.name} webhook, damaged and signed again", tally.figures())


def _shopper_hash(document: Any) -> Any:
    # The shop's backend signs what it names: the email, else the account id.
    user = document.get("user") if isinstance(document, dict) else None
    if isinstance(user, dict):
        signed = user.get("email") or user.get("id")
        if isinstance(signed, str | int) and not isinstance(signed, bool):
            user["hash"] = hmac.new(WIDGET_SECRET.encode(), str(signed).strip().encode("utf-8", "surrogatepass"),
                                    hashlib.sha256).hexdigest()
    return document


def test_widget_sessions_under_hostile_input(live: Live) -> None:
    """The web chat's one HTTP way in that takes a signed claim: a shopper the shop's backend vouches for."""
    recorded = [path.read_bytes() for path in sorted((FIXTURES / "webchat" / "fixtures").glob("session__*.json"))]
    tally = Tally()

    @budget(2)
    @given(st.data())
    def case(data: st.DataObject) -> None:
        original = data.draw(st.sampled_from(recorded))
        how = data.draw(st.sampled_from(["bytes", "fields", "fields, signed again"]))
        if how == "bytes":
            body = data.draw(damaged_bytes(original) | st.binary(max_size=500))
        else:
            document = data.draw(damaged_json(json.loads(original)))
            if how == "fields, signed again":
                document = _shopper_hash(document)
            body = json.dumps(document).encode("utf-8", "surrogatepass")
        tally.send(live, live.http, "/widget/session", body, {"Content-Type": "application/json"})

    try:
        case()
    finally:
        record("hostile input, web chat session", tally.figures())


def test_telegram_fields_of_the_wrong_type_are_a_400(live: Live) -> None:
    # python-telegram-bot takes Telegram's types on trust: found by a long run (HOSTILE_EXAMPLES=600),
    # a list as a document's mime_type reached the database and was a 500.
    folder = FIXTURES / "telegram" / "fixtures"
    document, edited, text = (json.loads((folder / name).read_bytes())
                              for name in ("document.json", "edited_message.json", "text.json"))
    document["message"]["document"]["mime_type"] = ["application/pdf", "application/pdf"]
    edited["edited_message"]["text"] = ["düzeltildi"]
    text["message"]["from"]["first_name"] = {"ad": "Ayşe"}
    tally = Tally()
    for update in (document, edited, text):
        body = json.dumps(update).encode()
        assert tally.send(live, live.http, "/webhooks/telegram", body,
                          {"Content-Type": "application/json", **_telegram("", body)}) == 400
    record("hostile input, Telegram fields of the wrong type", tally.figures())
