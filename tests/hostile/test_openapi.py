"""The public API under schemathesis: every operation in /openapi.json, with data that fits the spec and
data that does not, sent with a valid bearer token and with a wrong one, to the real app on loopback.

No answer is a 5xx; every status code and every body is one the spec declares. With a wrong token
every answer is 401 and nothing is written.
"""

from collections.abc import Callable
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import given
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.core.result import Ok

from adapters.base import parse_form
from tests.adapters.whatsapp.test_whatsapp import twilio_signature
from tests.hostile.conftest import FIXTURES, PUBLIC_BASE_URL, TWILIO_TOKEN, Live
from tests.hostile.mutations import budget
from tests.soak.figures import record

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


def _a_customer(live: Live) -> None:
    # Someone to find: a WhatsApp message makes customer 1 with a thread and a message.
    body = (FIXTURES / "whatsapp" / "fixtures" / "inbound_text.form").read_bytes()
    path = "/webhooks/twilio/whatsapp"
    signature = twilio_signature(PUBLIC_BASE_URL + path, parse_form(body), TWILIO_TOKEN)
    answer = live.http.post(path, content=body, headers={"Content-Type": "application/x-www-form-urlencoded",
                                                          "X-Twilio-Signature": signature})
    assert answer.status_code == 200


def _sweep(live: Live, headers: dict[str, str], *, share: float) -> tuple[int, dict[int, int], list[str]]:
    """(cases run, answers by status, failures) over every operation, positive and negative data."""
    schema = schemathesis.openapi.from_dict(live.app.openapi())
    statuses: dict[int, int] = {}
    failures: list[str] = []
    for result in schema.get_all_operations():
        # The spec is the app's own: an operation schemathesis cannot read is a failure of this test.
        assert isinstance(result, Ok), result.err()
        operation = result.ok()
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            run = _runner(live, operation, mode, headers, statuses, failures, share)
            found = len(failures)
            try:
                run()
            except Unsatisfiable:
                continue  # negative data for an operation that takes nothing (/healthz): none to make
            except (Exception, BaseExceptionGroup):
                # A check that failed is in `failures`, reported with the others; anything else is a bug here.
                if len(failures) == found:
                    raise
    return sum(n for status, n in statuses.items() if status > 0), statuses, failures


def _runner(live: Live, operation: Any, mode: GenerationMode, headers: dict[str, str], statuses: dict[int, int],
            failures: list[str], share: float) -> Callable[[], None]:
    label = f"{operation.label} [{mode.value}]"
    # One connection for the operation's examples: a new one per request costs more than the request.
    session = requests.Session()

    @budget(share)
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case: Any) -> None:
        response = case.call(base_url=live.url, headers=headers, session=session)
        statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
        if operation.path.startswith("/api/") and response.status_code < 300:
            # Counted apart: with a wrong token, any of these is the API opened to a stranger.
            statuses[-1] = statuses.get(-1, 0) + 1
        try:
            case.validate_response(response, checks=CHECKS)
        except (Exception, BaseExceptionGroup) as failure:
            failures.append(f"{label} {response.status_code}: {' '.join(str(failure).split())[:300]}")
            raise

    return run


def _answers(statuses: dict[int, int]) -> str:
    return ", ".join(f"{status}×{n}" for status, n in sorted(statuses.items()) if status > 0)


@pytest.mark.parametrize("token", ["valid", "wrong"])
def test_every_api_operation_answers_as_the_spec_says(live: Live, api_token: str, token: str) -> None:
    _a_customer(live)
    bearer = api_token if token == "valid" else "not-a-token-" + api_token[:8]
    before = live.rows()
    cases, statuses, failures = _sweep(live, {"Authorization": f"Bearer {bearer}"}, share=0.3)
    written = sum(abs(live.rows()[table] - n) for table, n in before.items())
    record(f"hostile input, API under schemathesis, {token} token",
           f"cases {cases}, server errors {sum(n for s, n in statuses.items() if s >= 500)}, "
           f"answers not as declared {len(failures)} (answers {_answers(statuses)})"
           + (f", /api/ answered 2xx {statuses.get(-1, 0)}, rows written {written}" if token == "wrong" else ""))
    assert failures == [], "\n".join(failures[:20])
    if token == "wrong":
        # FastAPI reads a body and its parameters before the token: a malformed call hears 400/422 first.
        assert statuses.get(-1, 0) == 0 and written == 0
