from urllib.parse import parse_qs, urlencode

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adapters.base import BadPayload, parse_form

# Every character a form may carry, the separators and escapes among them.
_TEXT = st.text(st.characters(codec="utf-8"), max_size=12) | st.sampled_from(
    ["", "&", "=", "+", "%", "%zz", "%2", "a=b"])


class TestParseForm:
    @given(st.lists(st.tuples(_TEXT, _TEXT), max_size=8))
    def test_reads_an_encoded_form_as_parse_qs_does(self, fields: list[tuple[str, str]]) -> None:
        body = urlencode(fields)
        assert parse_form(body.encode()) == parse_qs(body, keep_blank_values=True)

    @given(st.text(st.characters(codec="utf-8"), max_size=40))
    def test_reads_any_text_as_parse_qs_does(self, body: str) -> None:
        assert parse_form(body.encode()) == parse_qs(body, keep_blank_values=True)

    def test_keeps_blank_values_that_twilio_signs(self) -> None:
        assert parse_form(b"Body=&NumMedia=0") == {"Body": [""], "NumMedia": ["0"]}

    def test_refuses_bytes_that_are_not_utf8(self) -> None:
        with pytest.raises(BadPayload):
            parse_form(b"Body=%C3%BC\xff")
