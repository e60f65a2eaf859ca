"""Dates as the pages show them are Babel's own medium format, in both languages, however cached."""

import random
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from babel.dates import format_datetime
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
