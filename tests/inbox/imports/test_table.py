from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from inbox.errors import Invalid
from inbox.imports.table import Row, amount, moment, read, yes_no

ISTANBUL = ZoneInfo("Europe/Istanbul")


class TestRead:
    def test_excel_utf8_with_a_bom_and_semicolons(self) -> None:
        table = read("\ufeffExternal_ID;Total\n1001;1.249,90\n".encode())
        assert table.columns == ("external_id", "total")
        assert table.rows == [Row(2, {"external_id": "1001", "total": "1.249,90"})]

    def test_turkish_windows_code_page(self) -> None:
        table = read("name,email\nAyşe Yılmaz,ayse@example.net\n".encode("cp1254"))
        assert table.rows[0].values["name"] == "Ayşe Yılmaz"

    def test_tabs_and_a_given_delimiter(self) -> None:
        assert read(b"a\tb\n1\t2\n").rows[0].values == {"a": "1", "b": "2"}
        assert read(b"a;b\n1;2,5\n", delimiter=";").rows[0].values == {"a": "1", "b": "2,5"}

    def test_line_numbers_are_the_files_own_past_blank_lines_and_quoted_newlines(self) -> None:
        table = read(b'name,note\nA,"two\nlines"\n\nB,x\n')
        assert [row.line for row in table.rows] == [2, 5]

    def test_a_row_with_more_cells_than_columns_is_unreadable_with_its_line(self) -> None:
        table = read(b"name,total\nA,1,5\nB,2\n")
        assert [row.line for row in table.rows] == [3]
        assert [r.line for r in table.unreadable] == [2] and "3 cells" in table.unreadable[0].reason

    def test_missing_trailing_cells_are_empty(self) -> None:
        assert read(b"a,b,c\n1\n").rows[0].values == {"a": "1", "b": "", "c": ""}

    @pytest.mark.parametrize("data", [b"", b"\n1,2\n", b"a,a\n1,2\n"])
    def test_a_file_without_a_usable_header_is_refused(self, data: bytes) -> None:
        with pytest.raises(Invalid, match="file"):
            read(data)


class TestAmount:
    @pytest.mark.parametrize(("raw", "value"), [
        ("1249.90", "1249.90"), ("1249,90", "1249.90"), ("1.249,90", "1249.90"), ("1,249.90", "1249.90"),
        ("1 249,90", "1249.90"), ("749,9", "749.9"), ("100", "100"), ("1.249.000", "1249000"),
        ("1.249.000,50", "1249000.50"), ("₺99,00", "99.00"), ("0", "0"),
    ])
    def test_readable_amounts(self, raw: str, value: str) -> None:
        assert amount(raw, "total") == Decimal(value)

    @pytest.mark.parametrize("raw", ["1.249", "1,249"])
    def test_one_separator_before_three_digits_is_a_guess_and_refused(self, raw: str) -> None:
        with pytest.raises(Invalid, match="ambiguous"):
            amount(raw, "total")

    @pytest.mark.parametrize("raw", ["", "abc", "1,2,3", "12,34.5,6", "1.2345,00", "1.999", "0,001", "1e3x"])
    def test_other_text_is_refused(self, raw: str) -> None:
        with pytest.raises(Invalid):
            amount(raw, "total")


class TestMoment:
    def test_an_offset_is_kept(self) -> None:
        assert moment("2026-01-15T12:41:05+03:00", "placed_at", zone=UTC) == datetime(
            2026, 1, 15, 12, 41, 5, tzinfo=timezone(timedelta(hours=3)))

    def test_zulu(self) -> None:
        assert moment("2026-01-15T09:41:05Z", "placed_at", zone=ISTANBUL) == datetime(2026, 1, 15, 9, 41, 5, tzinfo=UTC)

    @pytest.mark.parametrize("raw", ["15.01.2026 12:41", "2026-01-15 12:41", "15.01.2026 12:41:00"])
    def test_without_an_offset_a_time_is_in_the_zone_given(self, raw: str) -> None:
        assert moment(raw, "placed_at", zone=ISTANBUL).astimezone(UTC) == datetime(2026, 1, 15, 9, 41, tzinfo=UTC)

    def test_other_text_is_refused_naming_the_column(self) -> None:
        with pytest.raises(Invalid, match="placed_at"):
            moment("dün", "placed_at", zone=UTC)


@pytest.mark.parametrize(("raw", "value"), [("yes", True), ("Evet", True), ("1", True), ("no", False),
                                            ("HAYIR", False), ("false", False)])
def test_yes_no(raw: str, value: bool) -> None:
    assert yes_no(raw, "consent.whatsapp") is value


def test_anything_else_is_not_a_yes_or_no() -> None:
    with pytest.raises(Invalid, match=r"consent\.whatsapp"):
        yes_no("maybe", "consent.whatsapp")

