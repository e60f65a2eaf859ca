"""Messaging windows: how long after a customer's last message a channel lets us answer freely.

WhatsApp allows free-form replies for 24 h after the customer's last inbound message (templates
only after that). Messenger allows 24 h, and a human agent may answer up to 7 days with the
HUMAN_AGENT tag. Email, Telegram and web chat have no window. Each identity's window starts at its
`last_inbound_at`; an address that never wrote to us has its window closed.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from inbox.channels import Channel
from inbox.customers.models import Identity
from inbox.errors import Conflict

HUMAN_AGENT = "HUMAN_AGENT"
_FREE = {Channel.whatsapp: timedelta(hours=24), Channel.messenger: timedelta(hours=24)}
_TAGGED = {Channel.messenger: (timedelta(days=7), HUMAN_AGENT)}
# What the agent can still do once a channel's window closed.
_INSTEAD = {Channel.whatsapp: "send an approved template (Admin → Templates lists them), or reply on another channel"}
_NAMES = {Channel.whatsapp: "WhatsApp", Channel.messenger: "Messenger"}


@dataclass(frozen=True, slots=True)
class Window:
    channel: str
    # False: nothing may be sent on this channel now; the agent picks another one.
    open: bool
    # When free replies (or, with a tag, tagged ones) stop being allowed; None: the channel has no window.
    closes_at: datetime | None = None
    # Set while only a tagged reply is allowed (Messenger between 24 h and 7 days).
    tag: str | None = None


class WindowClosed(Conflict):
    """A free-form reply into a closed window: refused now, instead of failing at the provider later."""

    def __init__(self, closed: Window) -> None:
        channel = Channel(closed.channel)
        name = _NAMES.get(channel, str(channel))
        instead = _INSTEAD.get(channel, "reply on another channel")
        if closed.closes_at is None:
            why = f"the customer has not written on {name}, so its messaging window is not open"
        else:
            lasted = _TAGGED[channel][0] if channel in _TAGGED else _FREE[channel]
            why = (f"the {name} messaging window is closed since {closed.closes_at:%Y-%m-%d %H:%M} UTC "
                   f"({_span(lasted)} after the customer's last message)")
        super().__init__(f"{why}: {instead}")
        self.window = closed


def _span(length: timedelta) -> str:
    return f"{length.days} days" if length.days > 1 else f"{int(length.total_seconds() // 3600)} hours"


def window(channel: Channel | str, last_inbound_at: datetime | None, *, now: datetime) -> Window:
    free = _FREE.get(Channel(channel))
    if free is None:
        return Window(str(channel), open=True)
    if last_inbound_at is None:
        return Window(str(channel), open=False)
    if now < last_inbound_at + free:
        return Window(str(channel), open=True, closes_at=last_inbound_at + free)
    tagged = _TAGGED.get(Channel(channel))
    if tagged is not None and now < last_inbound_at + tagged[0]:
        return Window(str(channel), open=True, closes_at=last_inbound_at + tagged[0], tag=tagged[1])
    return Window(str(channel), open=False, closes_at=last_inbound_at + (tagged[0] if tagged else free))


def for_identities(identities: Sequence[Identity], channels: Sequence[str], *, now: datetime) -> dict[str, Window]:
    """Each channel's window, from the customer's most recent inbound on it (the address a reply goes to)."""
    latest: dict[str, datetime | None] = {}
    for identity in identities:
        seen = latest.get(identity.channel)
        if identity.last_inbound_at is not None and (seen is None or identity.last_inbound_at > seen):
            latest[identity.channel] = identity.last_inbound_at
        else:
            latest.setdefault(identity.channel, None)
    return {channel: window(channel, latest.get(channel), now=now) for channel in channels}


def alternative(windows: dict[str, Window], closed: str) -> str | None:
    """Where to answer instead when `closed` is closed: an open window first, else a channel with none."""
    open_ones = [w for w in windows.values() if w.channel != closed and w.open]
    open_ones.sort(key=lambda w: (w.closes_at is None, w.tag is not None))
    return open_ones[0].channel if open_ones else None
