"""English and Turkish for every UI string, from gettext catalogs, with numbers, dates and money per locale.

The catalogs are .po files (web/locale/<lang>/LC_MESSAGES/messages.po, kept up to date with
pybabel extract/update); they are compiled in memory at start-up, so there is no build step.
"""

import functools
import gettext
import io
from datetime import UTC, date, datetime, time
from decimal import Decimal
from pathlib import Path

from babel import Locale, UnknownLocaleError
from babel.dates import TIMEDELTA_UNITS, format_date, format_time, format_timedelta, get_datetime_format
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_currency, format_decimal

LOCALES = ("en", "tr")
DEFAULT = "en"
_CATALOGS = Path(__file__).resolve().parent.parent / "locale"
# Babel's English data spells the lira "TRY"; shops and shoppers write ₺ in every language.
_SYMBOLS = {"TRY": "₺"}


@functools.cache
def translations(locale: str) -> gettext.NullTranslations:
    po = _CATALOGS / locale / "LC_MESSAGES" / "messages.po"
    if not po.exists():
        return gettext.NullTranslations()
    with po.open("rb") as source:
        catalog = read_po(source, locale=locale)
    compiled = io.BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return gettext.GNUTranslations(compiled)


def pick(preferred: str | None, accept_language: str) -> str:
    """The user's own choice, else the browser's first language we speak, else English."""
    if preferred in LOCALES:
        return str(preferred)
    for part in accept_language.split(","):
        tag = part.split(";")[0].strip().replace("_", "-").split("-")[0].lower()
        if tag in LOCALES:
            return tag
    return DEFAULT


# Babel formats a value in 30-100 µs, and a thread with its sidebar shows hundreds of times and
# amounts: they are cached, by day and second for times, since the same ones recur page after page.
@functools.lru_cache(maxsize=65_536)
def money(amount: Decimal | float | int, currency: str, locale: str) -> str:
    text = format_currency(amount, currency, locale=_babel(locale))
    symbol = _SYMBOLS.get(currency.upper())
    return text.replace(currency.upper(), symbol) if symbol else text


def number(value: Decimal | float | int, locale: str) -> str:
    return format_decimal(value, locale=_babel(locale))


def when(moment: datetime, locale: str) -> str:
    """format_datetime(moment, "medium") in UTC, assembled the way Babel does from cached halves."""
    moment = moment.astimezone(UTC)
    return (_datetime_pattern(locale).replace("{0}", _time(moment.hour, moment.minute, moment.second, locale))
            .replace("{1}", _date(moment.date(), locale)))


@functools.cache
def _datetime_pattern(locale: str) -> str:
    return str(get_datetime_format("medium", locale=_babel(locale))).replace("'", "")


@functools.lru_cache(maxsize=16_384)
def _date(day: date, locale: str) -> str:
    return format_date(day, "medium", locale=_babel(locale))


@functools.lru_cache(maxsize=65_536)
def _time(hour: int, minute: int, second: int, locale: str) -> str:
    return format_time(time(hour, minute, second), "medium", locale=_babel(locale))


def ago(moment: datetime, locale: str, *, now: datetime | None = None) -> str:
    delta = moment - (now or datetime.now(UTC))
    # Babel's words depend only on the unit it picks, the rounded count and the direction, so one
    # call per (language, unit, count, direction) serves every list row showing the same words.
    seconds = delta.total_seconds()
    key = (locale, seconds >= 0, *_unit_and_count(seconds))
    said = _AGO.get(key)
    if said is None:
        said = format_timedelta(delta, add_direction=True, threshold=_AGO_THRESHOLD, format="short",
                                locale=_babel(locale))
        if len(_AGO) < 10_000:
            _AGO[key] = said
    return said


_AGO: dict[tuple[str, bool, str, int], str] = {}
_AGO_THRESHOLD = 1.1


def _unit_and_count(seconds: float) -> tuple[str, int]:
    # Babel's own choice (format_timedelta with granularity "second"), repeated to key the cache.
    for unit, per_unit in TIMEDELTA_UNITS:
        value = abs(seconds) / per_unit
        if value >= _AGO_THRESHOLD or unit == "second":
            if unit == "second" and value > 0:
                value = max(1, value)
            return unit, round(value)
    raise AssertionError("unreachable: 'second' always matches")


@functools.cache
def _babel(locale: str) -> Locale:
    try:
        return Locale.parse({"tr": "tr_TR", "en": "en_US"}.get(locale, locale))
    except (UnknownLocaleError, ValueError):
        return Locale.parse("en_US")
