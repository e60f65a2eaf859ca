"""`onethread import orders|customers`, run as a person runs it: a process per call, on a real database."""

from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlmodel import col

from inbox.orders.models import Order
from inbox.preferences.models import Consent, Preference
from tests.web.test_cli import _env, onethread

# As Excel on Turkish Windows saves "CSV UTF-8": a BOM, semicolons, decimal commas, day-first dates.
ORDERS = ("\ufeffexternal_id;number;email;phone;name;status;total;currency;placed_at;store_name;tracking_url;items\n"
          "1001;#1001;ayse.yilmaz@example.net;0532 123 45 67;Ayşe Yılmaz;paid;1.249,90;TRY;15.01.2026 12:41;;;"
          "KUPA-LCV-4:1:749,90:Seramik Kupa Seti|ALTLIK-BMB-6:2:250\n"
          "1002;#1002;mehmet@example.net;;Mehmet Demir;fulfilled;749,90;TRY;2026-01-17T15:30:00+03:00;"
          "Kadıköy Mağazası;https://kargo.example/T2;\n"
          "1003;#1003;;;;paid;100;TRY;2026-01-18T10:00:00+03:00;;;\n"
          "1004;#1004;zeynep@example.net;;Zeynep;paid;1.249;TRY;2026-01-18T10:00:00+03:00;;;\n"
          "1005;#1005;can@example.net;;Can;paid;99,00;TRY;dün;;;\n"
          "1006;#1006;can@example.net;;Can;shipped;99,00;TRY;2026-01-19 09:00;;javascript:alert(1);\n")
REJECTED = ["line 4: customer: needs an email or a phone number",
            "line 5: total: '1.249' is ambiguous (thousands or decimals?): write it as 1249,00 or 1.249,00",
            "line 6: placed_at: not a date and time: 'dün' (write 2026-01-15T12:41:00+03:00 or 15.01.2026 12:41)",
            "line 7: tracking_url: must be an http:// or https:// address"]
CUSTOMERS = ("name,email,phone,pref.language,pref.size,consent.whatsapp,consent.email\n"
             "Ayşe Yılmaz,ayse.yilmaz@example.net,,tr,M,yes,no\n"
             "Nobody,,,tr,,,\n"
             '"Kaya, Elif",elif@example.net,+905551112233,tr,S,no,yes\n')


@pytest.fixture
def cli_env(db_url: str, tmp_path: Path) -> dict[str, str]:
    return _env(tmp_path / "data", db_url)


def summary_and_rejections(stdout: str) -> list[str]:
    return [line.strip() for line in stdout.splitlines() if line.strip().startswith(("✓", "line "))]


class TestImportOrders:
    def test_bad_rows_are_named_good_ones_kept_and_a_second_run_changes_nothing(self, cli_env, tmp_path) -> None:
        file = tmp_path / "siparisler.csv"
        file.write_text(ORDERS, encoding="utf-8")
        first = onethread("import", "orders", str(file), "--timezone", "Europe/Istanbul", env=cli_env, cwd=tmp_path)
        assert first.returncode == 1, first.stderr
        assert summary_and_rejections(first.stdout) == [
            "✓ siparisler.csv: 2 created, 0 updated, 0 unchanged, 4 rejected", *REJECTED]
        again = onethread("import", "orders", str(file), "--timezone", "Europe/Istanbul", env=cli_env, cwd=tmp_path)
        assert summary_and_rejections(again.stdout) == [
            "✓ siparisler.csv: 0 created, 0 updated, 2 unchanged, 4 rejected", *REJECTED]
        assert "Traceback" not in first.stderr + again.stderr

    async def test_what_the_agents_then_see(self, cli_env, tmp_path, sessions) -> None:
        file = tmp_path / "siparisler.csv"
        file.write_text(ORDERS, encoding="utf-8")
        onethread("import", "orders", str(file), "--timezone", "Europe/Istanbul", env=cli_env, cwd=tmp_path)
        async with sessions() as session:
            found = (await session.execute(select(Order).order_by(col(Order.external_id)))).scalars().all()
        assert [(o.number, o.total, o.status, o.store_name, o.tracking_url) for o in found] == [
            ("1001", Decimal("1249.90"), "paid", None, None),
            ("1002", Decimal("749.90"), "fulfilled", "Kadıköy Mağazası", "https://kargo.example/T2")]
        assert found[0].placed_at is not None and found[0].placed_at.isoformat() == "2026-01-15T09:41:00+00:00"

    def test_an_unknown_column_stops_before_any_row_is_read(self, cli_env, tmp_path) -> None:
        file = tmp_path / "orders.csv"
        file.write_text("external_id,totl,placed_at\n1,2,2026-01-01\n", encoding="utf-8")
        done = onethread("import", "orders", str(file), env=cli_env, cwd=tmp_path)
        assert done.returncode == 1
        assert "unknown column 'totl'" in done.stderr and "Traceback" not in done.stderr


class TestImportCustomers:
    async def test_preferences_and_consents_come_from_import_and_a_second_run_changes_nothing(
            self, cli_env, tmp_path, sessions) -> None:
        file = tmp_path / "musteriler.csv"
        file.write_text(CUSTOMERS, encoding="utf-8-sig")
        first = onethread("import", "customers", str(file), env=cli_env, cwd=tmp_path)
        assert summary_and_rejections(first.stdout) == [
            "✓ musteriler.csv: 2 created, 0 updated, 0 unchanged, 1 rejected",
            "line 3: customer: needs an email or a phone number"]
        again = onethread("import", "customers", str(file), env=cli_env, cwd=tmp_path)
        assert summary_and_rejections(again.stdout)[0] == (
            "✓ musteriler.csv: 0 created, 0 updated, 2 unchanged, 1 rejected")
        async with sessions() as session:
            prefs = (await session.execute(select(col(Preference.key), col(Preference.value), col(Preference.source))
                                           .order_by(col(Preference.id)))).all()
            consents = (await session.execute(select(col(Consent.channel), col(Consent.granted), col(Consent.source))
                                              .order_by(col(Consent.id)))).all()
        assert [tuple(p) for p in prefs] == [("language", "tr", "import"), ("size", "M", "import"),
                                             ("language", "tr", "import"), ("size", "S", "import")]
        assert [tuple(c) for c in consents] == [
            ("whatsapp", True, "import"), ("email", False, "import"),
            ("whatsapp", False, "import"), ("email", True, "import")]
