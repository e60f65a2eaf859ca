"""Dates as the pages show them are Babel's own medium format, in both languages, however cached."""

import itertools
import random
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from babel import Locale
from babel.dates import format_datetime, format_timedelta
from babel.numbers import format_currency

from web.ui import i18n


@pytest.mark.parametrize("locale", i18n.LOCALES)
def test_when_is_babels_medium_date_and_time_in_utc(locale) -> None:
    rng = random.Random(locale)
    for _ in range(2_000):
        moment = datetime(2020, 1, 1, tzinfo=UTC) + timedelta(seconds=rng.randrange(10**8))
        if rng.random() < 0.3:
            moment = moment.astimezone(timezone(timedelta(hours=3)))  # shown in UTC all the same
        assert i18n.when(moment, locale) == format_datetime(moment, "medium", tzinfo=UTC,
                                                            locale={"en": "en_US", "tr": "tr_TR"}[locale])


def test_money_keeps_the_lira_sign_when_cached() -> None:
    for _ in range(2):
        assert i18n.money(Decimal("1234.50"), "TRY", "tr") == format_currency(
            Decimal("1234.50"), "TRY", locale="tr_TR").replace("TRY", "₺")
    assert "₺" in i18n.money(Decimal("10"), "TRY", "en")


@pytest.mark.parametrize("locale", ["en", "tr"])
def test_relative_times_say_what_babel_says_however_often_they_are_asked(locale: str) -> None:
    now = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
    # Around every unit boundary (1.1 of a unit, rounding at .5), both directions, twice each:
    # the second round is answered from the cache.
    seconds = sorted({s for base in (0, 1, 59, 66, 90, 3599, 3960, 5400, 86399, 95040, 129600, 604800,
                                     665280, 2592000, 2851200, 31536000, 34689600)
                      for s in (base - 1, base, base + 1)})
    # Pages ask with the clock's microseconds, so fractions of a second round too.
    for _ in range(2):
        for second in seconds:
            for sign, fraction in itertools.product((1, -1), (0, 0.49, 0.51)):
                moment = now + timedelta(seconds=sign * (second + fraction))
                expected = format_timedelta(moment - now, add_direction=True, threshold=1.1, format="short",
                                            locale=Locale.parse({"tr": "tr_TR", "en": "en_US"}[locale]))
                assert i18n.ago(moment, locale, now=now) == expected, (sign * (second + fraction))
