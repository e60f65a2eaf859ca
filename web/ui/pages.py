"""Jinja2 pages with the request's language, the signed-in user and the CSRF token at hand."""

from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader, select_autoescape

from web.ui import i18n
from web.ui.message_view import TEMPLATE_HELPERS

# Autoescape on for every template: each customer-supplied string is escaped unless a template
# says otherwise, and none does for customer text (sanitized HTML goes through nh3 first).
# No auto_reload: it stats every template file a page includes, on every render; a template
# edited while the server runs shows after a restart (`uvicorn --reload` restarts by itself).
_ENV = Environment(loader=FileSystemLoader(Path(__file__).resolve().parent.parent / "templates"),
                   autoescape=select_autoescape(default=True), extensions=["jinja2.ext.i18n"],
                   auto_reload=False)
_ENV.policies["ext.i18n.trimmed"] = True
_ENV.globals.update(TEMPLATE_HELPERS)
# The icon macros as globals: loaded once per process, not imported again for every list row.
_ICONS = _ENV.get_template("_icons.html").module


def _kept(kept: dict[tuple[Any, ...], str], most: int, key: tuple[Any, ...], draw: Callable[[], str]) -> str:
    """What `draw` makes for `key`, drawn once and kept; all of it dropped when `most` are kept."""
    found = kept.get(key)
    if found is None:
        if len(kept) >= most:
            kept.clear()
        found = kept[key] = draw()
    return found


def _language(gettext: Callable[[str], str]) -> object:
    # gettext is bound to the language's (cached) translations object.
    return getattr(gettext, "__self__", gettext)


def _drawn_once(macro: Callable[[str, Callable[[str], str]], str]) -> Callable[[str, Callable[[str], str]], str]:
    """An icon macro's output depends only on its arguments: drawn once per value and language,
    not once per list row."""
    drawn: dict[tuple[Any, ...], str] = {}

    def draw(value: str, gettext: Callable[[str], str]) -> str:
        return _kept(drawn, 1000, (value, _language(gettext)), lambda: macro(value, gettext))

    return draw


_ENV.globals.update({name: _drawn_once(getattr(_ICONS, name))
                     for name in ("channel_icon", "channel_name", "delivery_mark")})
_ROW: Callable[..., str] = vars(_ENV.get_template("_list_row.html").module)["row"]
# Rows kept, by everything they show; emptied when full (a day's rows of a busy inbox fit).
_ROWS_KEPT = 4096
_rows: dict[tuple[Any, ...], str] = {}


def list_row(row: Any, view: str, selected_id: int, agent_names: dict[int, str],
             gettext: Callable[[str], str], ago: Callable[[datetime], str]) -> str:
    """A conversation list row (views.Row), drawn once for what it shows: the same rows make up
    every page of a view, a full thread page included, and drawing them was a fifth of its time
    (docs/benchmarks.md). The key is every value the row's HTML depends on, its relative time
    and its assignee's name as shown, so a row that changes in any visible way is drawn again."""
    thread = row.thread
    when = ago(thread.last_activity_at)
    assignee = agent_names.get(thread.assignee_id, "") if thread.assignee_id else None
    selected = selected_id == thread.id
    key = (_language(gettext), view, thread.id, selected, row.customer_name, assignee, thread.last_activity_at,
           when, thread.channels, thread.last_preview, thread.unread_count)
    return _kept(_rows, _ROWS_KEPT, key, lambda: _ROW(
        thread, row.customer_name or gettext("Unknown customer"), selected, view, when, assignee, gettext))


_ENV.globals["list_row"] = list_row
TEMPLATES = Jinja2Templates(env=_ENV)


def locale_of(request: Request) -> str:
    user = getattr(request.state, "user", None)
    return i18n.pick(getattr(user, "locale", None), request.headers.get("accept-language", ""))


def render(request: Request, template: str, context: dict[str, Any] | None = None, *,
           status_code: int = 200, headers: dict[str, str] | None = None, locale: str | None = None) -> HTMLResponse:
    """The page in the reader's language, or in `locale` when the page itself says which (the web chat)."""
    locale = locale or locale_of(request)
    words = i18n.translations(locale)
    signed_in = getattr(request.state, "signed_in", None)
    base: dict[str, Any] = {
        "locale": locale, "gettext": words.gettext, "ngettext": words.ngettext, "_": words.gettext,
        "user": signed_in.user if signed_in else None, "csrf_token": signed_in.csrf_token if signed_in else "",
        "money": lambda amount, currency: i18n.money(amount, currency, locale),
        "ago": lambda moment: i18n.ago(moment, locale), "when": lambda moment: i18n.when(moment, locale),
    }
    return TEMPLATES.TemplateResponse(request, template, {**base, **(context or {})}, status_code=status_code,
                                      headers=headers)
