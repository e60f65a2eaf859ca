"""System lines read in the agent's language, from their event key; unknown keys keep the stored text."""

from web.ui import i18n
from web.ui.message_view import event_line

TURKISH = i18n.translations("tr").gettext


def test_a_known_event_is_translated() -> None:
    assert event_line({"event": "case.reopened"}, "case reopened", TURKISH) == "Görüşme yeniden açıldı"


def test_a_merge_keeps_the_name_from_the_stored_line() -> None:
    line = event_line({"event": "customer.merged", "merge_id": 3}, "merged Ali Can into this customer", TURKISH)
    assert line == "Ali Can bu müşteriyle birleştirildi"


def test_an_unknown_event_or_an_unexpected_text_falls_back_to_what_was_stored() -> None:
    assert event_line({"event": "thread.snoozed"}, "snoozed until Monday", TURKISH) == "snoozed until Monday"
    assert event_line({"event": "customer.merged"}, "something else", TURKISH) == "something else"
    assert event_line(None, "case opened", TURKISH) == "case opened"
