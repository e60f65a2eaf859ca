"""`onethread import orders`: one order per row, matched to its customer as a shop's webhook would be.

Columns (names in any order and case; only external_id, total and placed_at are required):
external_id, number, email, phone, name, status, total, currency (default TRY), placed_at,
updated_at, store_name, tracking_url, items ("sku:quantity:price[:title]" joined by "|").
"""

from datetime import tzinfo
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from inbox.errors import Invalid
from inbox.events import IncomingLine, IncomingOrder
from inbox.imports.table import Progress, Row, Summary, amount, check_columns, import_rows, moment, read
from inbox.orders import service as orders

COLUMNS = ("external_id", "number", "email", "phone", "name", "status", "total", "currency", "placed_at",
           "updated_at", "store_name", "tracking_url", "items")
REQUIRED = ("external_id", "total", "placed_at")


async def import_orders(sessions: async_sessionmaker[AsyncSession], data: bytes, *, region: str, zone: tzinfo,
                        delimiter: str | None = None, progress: Progress | None = None) -> Summary:
    """Create or update each row's order; a row that is wrong is rejected with its line and why."""
    table = read(data, delimiter=delimiter)
    check_columns(table.columns, known=COLUMNS, required=REQUIRED)

    async def handle(session: AsyncSession, row: Row) -> str:
        return str(await orders.apply(session, order_of(row, zone=zone), region=region))

    return await import_rows(sessions, table, handle, progress=progress)


def order_of(row: Row, *, zone: tzinfo) -> IncomingOrder:
    """The row as an order, or Invalid naming the first cell at fault."""
    cell = row.values.get
    external_id = cell("external_id", "")
    if not external_id:
        raise Invalid("external_id", "is empty")
    currency = (cell("currency") or "TRY").upper()
    if len(currency) != 3 or not currency.isalpha():
        raise Invalid("currency", f"must be a 3-letter code such as TRY, not {currency!r}")
    tracking_url = cell("tracking_url") or None
    if tracking_url and not tracking_url.lower().startswith(("https://", "http://")):
        # Agents click it: a javascript: "tracking link" would run in their browser.
        raise Invalid("tracking_url", "must be an http:// or https:// address")
    if len(tracking_url or "") > 2000:
        raise Invalid("tracking_url", "is longer than 2000 characters")
    total = amount(cell("total", ""), "total")
    if total < 0:
        raise Invalid("total", f"must not be negative: {cell('total')!r}")
    updated_at = cell("updated_at")
    return IncomingOrder(
        external_id=external_id[:100], number=cell("number") or None, status=cell("status", ""),
        total=total, currency=currency,
        placed_at=moment(cell("placed_at", ""), "placed_at", zone=zone),
        updated_at=moment(updated_at, "updated_at", zone=zone) if updated_at else None,
        email=cell("email") or None, phone=cell("phone") or None, name=cell("name") or None,
        store_name=cell("store_name", "")[:200] or None, tracking_url=tracking_url, lines=_lines(cell("items", "")),
    )


def _lines(raw: str) -> list[IncomingLine]:
    lines = []
    for part in filter(None, (p.strip() for p in raw.split("|"))):
        sku, _, rest = part.partition(":")
        quantity, _, rest = rest.partition(":")
        price, _, title = rest.partition(":")
        if not sku.strip() or not quantity.strip().isdigit() or not price.strip():
            raise Invalid("items", f"{part!r} is not sku:quantity:price (e.g. KUPA-4:2:749.90)")
        value = amount(price, "items")
        if value < Decimal(0):
            raise Invalid("items", f"{part!r} has a negative price")
        lines.append(IncomingLine(sku=sku.strip()[:100], quantity=int(quantity),
                                  price=value, title=(title.strip() or sku.strip())[:500]))
    return lines
