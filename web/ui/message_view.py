"""How stored messages read in the thread: system lines in the agent's language, mentions, delivery.

System lines ("event" messages) are stored in English for the API and search; the thread shows them
from their `extra["event"]` key through gettext, and falls back to the stored text for a key it does
not know.
"""

import re
from collections.abc import Callable
from typing import Any

from inbox.delivery import INTERRUPTED
from inbox.mentions import parts as mention_parts
from inbox.orders.mentions import parts as order_parts
from inbox.windows import alternative as window_alternative

# The merged customer's name is only in the stored English line; read it back from there.
_MERGED = re.compile(r"^merged (?P<name>.+) into this customer$")
_UNMERGED = re.compile(r"^undid the merge of (?P<name>.+) into this customer$")


def event_line(extra: dict[str, Any] | None, text: str, gettext: Callable[[str], str], *, author: str = "",
               subject: str = "") -> str:
    """`author` and `subject` are the message's own, for lines that name them (an automatic reply)."""
    key = (extra or {}).get("event")
    fixed = {
        "case.opened": gettext("Conversation opened"),
        "case.reopened": gettext("Conversation reopened"),
        "case.woke": gettext("Conversation woke up: the customer wrote"),
    }
    if key in fixed:
        return fixed[str(key)]
    said = extra or {}
    by = str(said.get("by") or "")
    if key == "case.assigned":
        to, team = said.get("to"), said.get("team")
        line = (gettext("%(by)s assigned this to %(to)s, team %(team)s") if to and team
                else gettext("%(by)s assigned this to %(to)s") if to
                else gettext("%(by)s assigned this to the team %(team)s") if team
                else gettext("%(by)s unassigned this"))
        return line % {"by": by, "to": to, "team": team}
    if key == "case.status":
        lines = {"open": gettext("%(by)s reopened this"), "pending": gettext("%(by)s marked this pending"),
                 "snoozed": gettext("%(by)s snoozed this"), "resolved": gettext("%(by)s resolved this")}
        if (status_line := lines.get(str(said.get("status")))) is not None:
            return status_line % {"by": by}
    if key == "email.auto_reply":
        line = gettext("Automatic reply from %(name)s: %(subject)s") if subject else \
            gettext("Automatic reply from %(name)s")
        return line % {"name": author, "subject": subject}
    if key == "call.missed":
        return gettext("Missed call")
    if key == "call.answered":
        return call_line(said.get("call") or {}, gettext)
    if key == "call.transcribed":
        return gettext("Voicemail, as Twilio heard it: %(text)s") % {"text": text}
    if key == "attachment.failed":
        return gettext("%(file)s could not be kept: %(reason)s") % {"file": said.get("filename") or "",
                                                                   "reason": said.get("reason") or ""}
    for event, pattern, line in (("customer.merged", _MERGED, gettext("Merged %(name)s into this customer")),
                                 ("customer.unmerged", _UNMERGED,
                                  gettext("Undid the merge of %(name)s into this customer"))):
        if key == event and (found := pattern.match(text)):
            return line % {"name": found.group("name")}
    return text


def call_line(call: dict[str, Any], gettext: Callable[[str], str]) -> str:
    """One line saying what a logged or Twilio-reported call was: kind · number · length · outcome."""
    kinds = {"incoming": gettext("Incoming call"), "outgoing": gettext("Outgoing call"),
             "in_person": gettext("In person"), "missed": gettext("Missed call"),
             "answered": gettext("Call answered"), "voicemail": gettext("Voicemail")}
    outcomes = {"resolved": gettext("resolved"), "follow_up": gettext("needs a follow-up"),
                "callback": gettext("call back"), "no_answer": gettext("no answer"),
                "voicemail": gettext("left a voicemail")}
    parts = [kinds.get(str(call.get("kind")), str(call.get("kind") or ""))]
    if call.get("number"):
        parts.append(str(call["number"]))
    seconds = call.get("seconds")
    if isinstance(seconds, int) and seconds > 0:
        parts.append(gettext("%(count)s s") % {"count": seconds} if seconds < 60
                     else gettext("%(count)s min") % {"count": round(seconds / 60)})
    if call.get("outcome"):
        parts.append(outcomes.get(str(call["outcome"]), str(call["outcome"])))
    if call.get("confirmed"):
        parts.append(gettext("number confirmed"))
    return " · ".join(parts)


def address_shown(identity: Any, gettext: Callable[[str], str]) -> str:
    """An identity as staff read it: as the customer wrote it, and an anonymous web chat visitor by a short name."""
    if identity.address.startswith("visitor:"):
        return gettext("Web chat visitor %(id)s") % {"id": identity.address[8:14]}
    return str(identity.display or identity.address)


def interrupted(error: str | None) -> bool:
    return error == INTERRUPTED


TEMPLATE_HELPERS: dict[str, Any] = {"event_line": event_line, "call_line": call_line, "address_shown": address_shown,
                                    "mention_parts": mention_parts, "order_parts": order_parts,
                                    "delivery_interrupted": interrupted, "window_alternative": window_alternative}
