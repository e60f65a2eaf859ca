"""Reading a spreadsheet export: encodings, delimiters, line numbers, and the cells' formats."""

import csv
import io
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from decimal import Decimal, InvalidOperation

from sqlalchemy.exc import DataError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from inbox.db import transaction
from inbox.errors import Invalid

Progress = Callable[[int, int], None]
# What one row did: "created", "updated" or "unchanged"; raises Invalid to reject it.
RowHandler = Callable[[AsyncSession, "Row"], Awaitable[str]]
DELIMITERS = (",", ";", "\t")
# Rows written per transaction: a CLI run next to a busy server holds SQLite's write lock briefly.
CHUNK = 100


@dataclass(frozen=True, slots=True)
class Row:
    # The file's line the row starts on (the header is line 1), as a spreadsheet numbers it.
    line: int
    values: dict[str, str]


@dataclass(frozen=True, slots=True)
class Rejected:
    line: int
    reason: str


@dataclass(slots=True)
class Summary:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: list[Rejected] = field(default_factory=list)

    def add(self, outcome: str) -> None:
        setattr(self, outcome, getattr(self, outcome) + 1)


@dataclass(frozen=True, slots=True)
class Table:
    columns: tuple[str, ...]
    rows: list[Row]
    # Rows that could not even be split into the header's columns.
    unreadable: list[Rejected]


def read(data: bytes, *, delimiter: str | None = None) -> Table:
    """The file's rows by column name (names trimmed and lower-cased); Invalid("file", …) if there are none."""
    text = _decode(data)
    first_line = text.split("\n", 1)[0]
    if not first_line.strip():
        raise Invalid("file", "the first line must name the columns; it is empty")
    chosen = delimiter or max(DELIMITERS, key=first_line.count)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=chosen)
    columns = tuple(name.strip().lower() for name in next(reader))
    if len(set(columns)) != len(columns):
        raise Invalid("file", f"a column is named twice: {', '.join(columns)}")
    rows, unreadable = [], []
    line = reader.line_num + 1
    for record in reader:
        if any(cell.strip() for cell in record):
            if len(record) > len(columns) and any(cell.strip() for cell in record[len(columns):]):
                unreadable.append(Rejected(line, f"{len(record)} cells, but the header names {len(columns)} "
                                                 f"columns (is a {chosen!r} inside a value without quotes?)"))
            else:
                rows.append(Row(line, {name: (record[i].strip() if i < len(record) else "")
                                       for i, name in enumerate(columns)}))
        line = reader.line_num + 1
    return Table(columns, rows, unreadable)


def _decode(data: bytes) -> str:
    # Excel writes UTF-8 with a BOM ("CSV UTF-8"), or, as plain "CSV" on Turkish Windows, code page 1254.
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("cp1254", errors="replace")


def check_columns(columns: Sequence[str], *, known: Sequence[str], required: Sequence[str],
                  prefixes: Sequence[str] = ()) -> None:
    unknown = [c for c in columns if c not in known and not any(c.startswith(p) and c != p for p in prefixes)]
    if unknown:
        raise Invalid("file", f"unknown column {', '.join(map(repr, unknown))}; the columns are "
                              f"{', '.join([*known, *(p + '…' for p in prefixes)])}")
    missing = [c for c in required if c not in columns]
    if missing:
        raise Invalid("file", f"missing column {', '.join(map(repr, missing))}")


async def import_rows(sessions: async_sessionmaker[AsyncSession], table: Table, handle: RowHandler, *,
                      progress: Progress | None = None) -> Summary:
    """handle() each row in a savepoint of its own: a row it refuses (Invalid) is rolled back and
    rejected with its line and why, and the rows around it are kept."""
    summary = Summary(rejected=list(table.unreadable))
    done, total = len(table.unreadable), len(table.unreadable) + len(table.rows)
    for start in range(0, len(table.rows), CHUNK):
        async with transaction(sessions) as session:
            for row in table.rows[start:start + CHUNK]:
                try:
                    async with session.begin_nested():
                        summary.add(await handle(session, row))
                except Invalid as error:
                    summary.rejected.append(Rejected(row.line, str(error)))
                except (DataError, IntegrityError) as error:
                    # A value the database refuses (too long for its column, say): this row only.
                    summary.rejected.append(Rejected(row.line, f"not stored: {str(error.orig).splitlines()[0]}"))
                done += 1
                if progress is not None:
                    progress(done, total)
    summary.rejected.sort(key=lambda rejected: rejected.line)
    return summary


_GROUPED = re.compile(r"^\d{1,3}(\d{3})*$")


def amount(raw: str, name: str) -> Decimal:
    """1249.90, 1249,90 (Turkish), 1.249,90 and 1,249.90; refused where the separator is a guess (1.249)."""
    text = raw.replace(" ", "").replace("\u00a0", "").removesuffix("₺").removeprefix("₺")
    if not text:
        raise Invalid(name, "is empty")
    sign = "-" if text.startswith("-") else ""
    text = text.lstrip("+-")
    if "," in text and "." in text:
        decimal_mark = "," if text.rfind(",") > text.rfind(".") else "."
        whole, _, cents = text.rpartition(decimal_mark)
        grouping = "." if decimal_mark == "," else ","
        if not _GROUPED.match(whole.replace(grouping, "")) or any(
                len(group) != 3 for group in whole.split(grouping)[1:]):
            raise Invalid(name, f"not an amount: {raw!r}")
        text = whole.replace(grouping, "") + "." + cents
    elif "," in text or "." in text:
        mark = "," if "," in text else "."
        whole, _, cents = text.rpartition(mark)
        if text.count(mark) == 1 and len(cents) == 3:
            raise Invalid(name, f"{raw!r} is ambiguous (thousands or decimals?): write it as 1249,00 or 1.249,00")
        if text.count(mark) > 1:
            # 1.249.000 or 1,249,000: thousands groups only.
            if any(len(group) != 3 for group in text.split(mark)[1:]):
                raise Invalid(name, f"not an amount: {raw!r}")
            text = text.replace(mark, "")
        else:
            text = whole + "." + cents
    try:
        value = Decimal(sign + text)
    except InvalidOperation:
        raise Invalid(name, f"not an amount: {raw!r}") from None
    if not value.is_finite() or value.as_tuple().exponent < -2:  # type: ignore[operator]
        raise Invalid(name, f"not an amount with at most two decimals: {raw!r}")
    return value


_DAY_FIRST = ("%d.%m.%Y %H:%M:%S", "%d.%m.%Y %H:%M", "%d.%m.%Y")


def moment(raw: str, name: str, *, zone: tzinfo) -> datetime:
    """ISO 8601 (2026-01-15T12:41:05+03:00) or Turkish day-first (15.01.2026 12:41); without an
    offset, a time in `zone`."""
    text = raw.strip()
    parsed = None
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00") if text.endswith("Z") else text)
    except ValueError:
        for pattern in _DAY_FIRST:
            try:
                parsed = datetime.strptime(text, pattern)
                break
            except ValueError:
                continue
    if parsed is None:
        raise Invalid(name, f"not a date and time: {raw!r} (write 2026-01-15T12:41:00+03:00 or 15.01.2026 12:41)")
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=zone)


_YES, _NO = {"yes", "y", "true", "1", "evet", "e"}, {"no", "n", "false", "0", "hayır", "hayir", "h"}


def yes_no(raw: str, name: str) -> bool:
    word = raw.strip().lower()
    if word in _YES:
        return True
    if word in _NO:
        return False
    raise Invalid(name, f"must be yes or no (evet/hayır), not {raw!r}")
