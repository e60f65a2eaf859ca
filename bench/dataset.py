"""A generated shop's inbox at scale: customers, their one thread each, messages, orders, preferences.

    python -m bench.dataset [--scale 1.0] [--postgres postgresql://postgres@127.0.0.1:5432/bench_ui]

At scale 1: 200k customers (Turkish and English names; identities on WhatsApp, email, Telegram,
Messenger and web chat), 200k threads with cases in every status, 2M messages with a long tail
(a few threads hold thousands) including notes and event lines, 300k orders with lines, and the
search documents exactly as the app writes them (inbox.text.fold; the FTS5 triggers and the
tsvector column come from the migrations, which build the schema).

Rows go in through the raw drivers: executemany in big transactions on SQLite, COPY on PostgreSQL.
The result is kept: a SQLite file under bench/.data/, and the PostgreSQL database is reused while
its row counts match, so a second run starts measuring at once.
"""

import argparse
import asyncio
import functools
import random
import sqlite3
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from inbox.agents.service import _hasher
from inbox.migrate import upgrade
from inbox.text import fold, preview

DATA_DIR = Path(__file__).resolve().parent / ".data"
PASSWORD = "bench-password-1"
AGENTS = 24
CHUNK = 2_000  # customers per write: a few thousand messages, a bounded amount of memory
console = Console(width=150)

TR_FIRST = ["Ayşe", "Mehmet", "Şule", "İbrahim", "Çağla", "Gökhan", "Özlem", "Ümit", "Iğdır", "Zeynep",
            "Emre", "Elif", "Burak", "Merve", "Oğuz", "Büşra", "Serkan", "Gülşen", "Hakan", "Derya",
            "Kübra", "Tolga", "Şükrü", "Nazlı", "İlkay", "Cem", "Ebru", "Barış", "Sıla", "Doğan"]
TR_LAST = ["Yılmaz", "Kaya", "Demir", "Şahin", "Çelik", "Yıldız", "Öztürk", "Aydın", "Özdemir", "Arslan",
           "Doğan", "Kılıç", "Aslan", "Çetin", "Koç", "Kurt", "Özkan", "Şimşek", "Polat", "Güneş"]
EN_FIRST = ["Emma", "Oliver", "Sophie", "James", "Charlotte", "Henry", "Amelia", "Jack", "Grace", "Noah",
            "Lucy", "Thomas", "Hannah", "William", "Chloe", "George", "Ella", "Harry", "Mia", "Daniel"]
EN_LAST = ["Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Johnson", "Davies", "Patel", "Wright",
           "Walker", "Evans", "Thompson", "Roberts", "Green", "Hall", "Wood", "Clarke", "Hughes", "Turner"]
PRODUCTS = ["Deri Bot", "Keten Gömlek", "Yün Kazak", "Spor Ayakkabı", "Kot Pantolon", "İpek Eşarp",
            "Linen Shirt", "Leather Boots", "Wool Sweater", "Running Shoes", "Denim Jacket", "Silk Scarf",
            "Çocuk Montu", "Güneş Gözlüğü", "Sırt Çantası", "Canvas Tote"]
CITIES = ["İstanbul", "Ankara", "İzmir", "Bursa", "Antalya", "Eskişehir", "Kadıköy", "Beşiktaş", "Üsküdar"]
INBOUND_TR = [
    "Merhaba, {order} numaralı siparişim ne zaman kargoya verilir?", "{product} için {size} beden var mı?",
    "İade etmek istiyorum, {product} küçük geldi.", "Kargo takip numarası çalışmıyor, yardımcı olur musunuz?",
    "{city} mağazasında {product} stokta mı?", "Siparişimi iptal edebilir miyim? {order}",
    "Ödeme iki kez çekilmiş görünüyor, kontrol eder misiniz?", "Teşekkürler, ürün elime ulaştı 👍",
    "Faturayı şirket adına kesebilir misiniz?", "Değişim için {city} şubesine gelsem olur mu?",
    "Ürünün rengi fotoğraftakinden farklı çıktı.", "Kapıda ödeme seçeneği var mı?",
]
INBOUND_EN = [
    "Hi, where is my order {order}? It's been a week.", "Do you have the {product} in size {size}?",
    "I'd like to return the {product}, it doesn't fit.", "Can I pick it up at the {city} store tomorrow?",
    "The tracking link for {order} shows nothing.", "Thanks, got it!", "Can I change the delivery address?",
    "Is there a discount code for the {product}?", "My parcel arrived damaged, what should I do?",
]
OUTBOUND = [
    "Merhaba {first}, siparişiniz {order} bugün kargoya verildi.", "Hi {first}, your order {order} ships today.",
    "İade kodunuz oluşturuldu, kargoya ücretsiz verebilirsiniz.", "We've issued a return label for the {product}.",
    "{city} mağazamızda {size} beden mevcut, sizin için ayırdık.", "Sorry for the wait, {first}! Checking now.",
    "Ödemenizi kontrol ettik, ikinci çekim iade edildi.", "Your refund was processed; it takes 3–5 business days.",
]
NOTES = ["Müşteri VIP, kargo ücretini iade et.", "Called the courier: parcel is at the {city} hub.",
         "Aynı müşteri e-postadan da yazdı, birleştirmeyi kontrol et.", "Refund approved by finance."]
EVENTS = ["Assigned to {agent}", "Status changed to pending", "Reopened by a new message", "Resolved by {agent}"]
SUBJECTS = ["Sipariş {order} hakkında", "Question about order {order}", "İade talebi", "Delivery problem"]
STATUSES = ["open"] * 25 + ["pending"] * 10 + ["snoozed"] * 5 + ["resolved"] * 60
ORDER_STATUSES = ["paid", "shipped", "shipped", "delivered", "delivered", "delivered", "cancelled", "returned"]
TAGS = ["vip", "iade", "kargo", "wholesale", "complaint", "fatura"]
PREFERENCES = [("size", ["S", "M", "L", "38", "40", "42"]), ("language", ["tr", "en"]),
               ("preferred_channel", ["whatsapp", "email", "telegram"]), ("delivery_time", ["sabah", "akşam"])]


@dataclass(frozen=True)
class Sizes:
    customers: int
    messages: int
    orders: int

    @classmethod
    def at(cls, scale: float) -> "Sizes":
        customers = max(50, round(200_000 * scale))
        return cls(customers, max(customers * 2, round(2_000_000 * scale)), max(10, round(300_000 * scale)))


@dataclass
class Dataset:
    """Where a generated dataset is, and what the bench needs to know about it."""

    url: str
    sizes: Sizes
    agent_emails: list[str]
    heavy_threads: list[int]
    order_heavy_threads: list[int]
    generated_seconds: float | None = None  # None: reused from an earlier run
    counts: dict[str, int] = field(default_factory=dict)


# One description of every loaded table: its columns in insertion order.
COLUMNS: dict[str, tuple[str, ...]] = {
    "user": ("id", "email", "name", "password_hash", "role", "locale", "active", "created_at"),
    "team": ("id", "name"),
    "teammember": ("team_id", "user_id"),
    "tag": ("id", "name", "color"),
    "customer": ("id", "name", "note", "absorbed_into_id", "created_at", "updated_at"),
    "identity": ("id", "customer_id", "channel", "kind", "address", "verified", "display", "last_inbound_at",
                 "created_at"),
    "thread": ("id", "customer_id", "case_id", "status", "assignee_id", "team_id", "snoozed_until",
               "last_activity_at", "last_message_id", "last_preview", "last_direction", "last_channel",
               "last_inbound_channel", "channels", "unread_count", "created_at"),
    "case": ("id", "thread_id", "number", "status", "assignee_id", "team_id", "snoozed_until", "opened_at",
             "first_response_at", "resolved_at"),
    "casetag": ("case_id", "tag_id"),
    "message": ("id", "thread_id", "case_id", "identity_id", "direction", "channel", "author_type",
                "author_user_id", "author_name", "text", "html", "subject", "provider_id", "reply_to_id",
                "references", "extra", "at", "provider_at", "created_at", "edited_at", "original_text",
                "delivery_status", "error", "attempts", "next_attempt_at", "claimed_at", "claimed_by",
                "idempotency_key"),
    "search_doc": ("id", "kind", "ref_id", "customer_id", "body", "at"),
    "order": ("id", "external_id", "number", "customer_id", "status", "total", "currency", "placed_at",
              "tracking_url", "store_name", "source_updated_at", "updated_at"),
    "orderline": ("id", "order_id", "sku", "title", "quantity", "price"),
    "preference": ("id", "customer_id", "key", "value", "source", "source_channel", "source_message_id",
                   "set_by_user_id", "stated_at"),
    "mergesuggestion": ("id", "customer_id", "other_id", "reason", "status", "created_at", "decided_at"),
    "liveevent": ("id", "at", "kind", "thread_id", "customer_id", "data"),
}
Rows = dict[str, list[tuple[Any, ...]]]


@functools.lru_cache(maxsize=200_000)
def _folded(text: str) -> str:
    return fold(text)


class Generator:
    """Deterministic rows, a chunk of customers at a time, each chunk consistent on its own."""

    def __init__(self, sizes: Sizes, *, seed: int = 20261123) -> None:
        self.sizes = sizes
        self.random = random.Random(seed)
        self.now = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
        self.message_counts = self._message_counts()
        self.order_counts = self._order_counts()
        self.message_id = self.doc_id = self.identity_id = self.order_id = self.line_id = self.pref_id = 0
        self.agents = [(i + 2, name) for i, name in enumerate(
            f"{self.random.choice(TR_FIRST + EN_FIRST)} {chr(65 + i % 26)}." for i in range(AGENTS))]

    def _message_counts(self) -> list[int]:
        """Messages per thread: a long tail, a few threads with thousands, every thread at least one."""
        n, total = self.sizes.customers, self.sizes.messages
        rng = random.Random(1)
        weights = [min(rng.paretovariate(1.3), 400.0) for _ in range(n)]
        heavy = max(1, n // 10_000)
        for index in rng.sample(range(n), heavy):
            weights[index] = 0.0
        heavy_total = min(total // 10, heavy * 3_000)
        spread = total - n - heavy_total
        scale = spread / sum(weights)
        counts = [1 + int(w * scale) for w in weights]
        for index in (i for i, w in enumerate(weights) if w == 0.0):
            counts[index] = 1 + heavy_total // heavy
        counts[0] += total - sum(counts)  # rounding lands on the first customer
        return counts

    def _order_counts(self) -> list[int]:
        n, total = self.sizes.customers, self.sizes.orders
        rng = random.Random(2)
        counts = [0] * n
        # Most customers have none or a few; some regulars have dozens.
        for _ in range(total):
            counts[min(n - 1, int(n * rng.random() ** 1.6))] += 1
        return counts

    @property
    def heavy_threads(self) -> list[int]:
        ranked = sorted(range(len(self.message_counts)), key=self.message_counts.__getitem__, reverse=True)
        return [i + 1 for i in ranked[:20]]

    @property
    def order_heavy_threads(self) -> list[int]:
        ranked = sorted(range(len(self.order_counts)), key=self.order_counts.__getitem__, reverse=True)
        return [i + 1 for i in ranked[:20]]

    def fixed(self) -> Rows:
        created = self.now - timedelta(days=400)
        hashed = _hasher.hash(PASSWORD)
        users = [(1, "admin@bench.onethread.test", "Bench Admin", hashed, "admin", None, True, created)]
        users += [(uid, f"agent{uid - 1}@bench.onethread.test", name, hashed, "agent", None, True, created)
                  for uid, name in self.agents]
        teams = [(1, "Destek"), (2, "Returns"), (3, "Wholesale")]
        members = [(1 + (uid % 3), uid) for uid, _ in self.agents]
        tags = [(i + 1, name, "") for i, name in enumerate(TAGS)]
        return {"user": users, "team": teams, "teammember": members, "tag": tags}

    def last(self) -> Rows:
        """Rows that point at customers from anywhere in the set: written after all of them."""
        events = [(i + 1, self.now - timedelta(minutes=10 - i), "thread.updated", i + 1, i + 1, "{}")
                  for i in range(10)]
        pairs = self.random.sample(range(1, self.sizes.customers + 1), min(2_000, self.sizes.customers // 10) * 2)
        suggestions = [(i + 1, a, b, "same phone number on WhatsApp and email", "open", self.now, None)
                       for i, (a, b) in enumerate(zip(pairs[::2], pairs[1::2], strict=False))]
        return {"liveevent": events, "mergesuggestion": suggestions}

    def chunk(self, first: int, last: int) -> Rows:
        """Every row of customers first..last (ids from 1): customer, identities, thread, case, messages, docs."""
        rows: Rows = {name: [] for name in ("customer", "identity", "thread", "case", "casetag", "message",
                                            "search_doc", "preference")}
        for customer_id in range(first, last + 1):
            self._customer(customer_id, rows)
        return rows

    def _customer(self, cid: int, rows: Rows) -> None:
        rng = self.random
        turkish = rng.random() < 0.7
        first = rng.choice(TR_FIRST if turkish else EN_FIRST)
        last = rng.choice(TR_LAST if turkish else EN_LAST)
        name = f"{first} {last}"
        count = self.message_counts[cid - 1]
        last_at = self.now - timedelta(minutes=int(rng.expovariate(1 / 20_000)) + 1)
        gap = timedelta(minutes=max(1.0, min(60 * 24 * 3.0, 500_000 / count)))
        started = last_at - gap * count
        rows["customer"].append((cid, name, "", None, started, started))

        identities = self._identities(cid, first, last, turkish, started, rows)
        status = rng.choice(STATUSES)
        assignee = None if status == "open" and rng.random() < 0.5 else rng.choice(self.agents)[0]
        team = rng.choice((None, None, 1, 2, 3))
        # Far enough ahead that the app's snooze waker leaves a cached dataset as generated.
        snoozed = self.now + timedelta(days=rng.randint(60, 365)) if status == "snoozed" else None
        resolved_at = last_at if status == "resolved" else None
        rows["case"].append((cid, cid, 1, status, assignee, team, snoozed, started, None, resolved_at))
        if rng.random() < 0.1:
            rows["casetag"].append((cid, rng.randrange(len(TAGS)) + 1))

        summary = self._messages(cid, first, identities, count, started, gap, status, rows)
        rows["thread"].append((cid, cid, cid, status, assignee, team, snoozed, *summary, started))
        if rng.random() < 0.3:
            for key, values in rng.sample(PREFERENCES, rng.randint(1, 3)):
                self.pref_id += 1
                stated = rng.random() < 0.6
                rows["preference"].append((
                    self.pref_id, cid, key, rng.choice(values), "stated" if stated else "agent",
                    identities[0][1] if stated else None, None, None if stated else rng.choice(self.agents)[0],
                    started + gap))
        rows["search_doc"].append(self._doc("customer", cid, cid, " ".join(
            [name, *(f"{display} {address}" for _, _, address, display in identities)]), started))

    def _identities(self, cid: int, first: str, last: str, turkish: bool, at: datetime,
                    rows: Rows) -> list[tuple[int, str, str, str]]:
        rng = self.random
        channels = ["whatsapp"] if rng.random() < 0.75 else []
        for channel, share in (("email", 0.5), ("telegram", 0.12), ("messenger", 0.15), ("webchat", 0.1)):
            if rng.random() < share:
                channels.append(channel)
        if not channels:
            channels = ["email"]
        made = []
        for channel in channels:
            self.identity_id += 1
            if channel == "whatsapp":
                number = f"{cid:07d}"
                address = f"+90{rng.choice(('532', '533', '542', '555', '505'))}{number}" if turkish \
                    else f"+447{rng.randrange(100, 999)}{number[-6:]}{cid % 10}"
                display, kind, verified = address, "phone", True
            elif channel == "email":
                domain = rng.choice(("gmail.com", "hotmail.com", "yandex.com.tr", "outlook.com", "icloud.com"))
                address = f"{fold(first)}.{fold(last)}{cid}@{domain}".replace(" ", "")
                display, kind, verified = address, "email", rng.random() < 0.7
            elif channel == "telegram":
                address, kind, verified = str(700_000_000 + cid), "handle", True
                display = f"@{fold(first)}_{cid}"
            elif channel == "messenger":
                address, kind, verified = str(5_000_000_000_000_000 + cid), "handle", True
                display = f"{first} {last}"
            else:
                address, kind, verified = f"web-{cid:08x}", "handle", False  # claimed in the chat widget
                display = f"{first} (web)"
            rows["identity"].append((self.identity_id, cid, channel, kind, address, verified, display, at, at))
            made.append((self.identity_id, channel, address, display))
        return made

    def _fill(self, template: str, first: str) -> str:
        rng = self.random
        return template.format(order=f"#{rng.randrange(100_000, 100_000 + self.sizes.orders)}",
                               product=rng.choice(PRODUCTS), size=rng.choice(("S", "M", "L", "38", "40", "42")),
                               city=rng.choice(CITIES), first=first, agent=rng.choice(self.agents)[1])

    def _messages(self, cid: int, first: str, identities: list[tuple[int, str, str, str]], count: int,
                  started: datetime, gap: timedelta, status: str, rows: Rows) -> tuple[Any, ...]:
        rng = self.random
        messages, docs = rows["message"], rows["search_doc"]
        last: tuple[int, datetime, str, str, str] | None = None
        channels: set[str] = set()
        last_inbound_channel = ""
        unread = 0
        at = started
        for index in range(count):
            at += gap * (0.2 + 1.6 * rng.random()) if index else timedelta(0)
            self.message_id += 1
            mid = self.message_id
            identity, channel, _address, _display = rng.choice(identities)
            identity_id: int | None = identity
            provider_id: str | None
            user: int | None
            roll = rng.random() if index else 0.0  # a thread starts with the customer writing
            subject = None
            if roll < 0.5:
                direction, author, author_name, user = "inbound", "customer", "", None
                text = self._fill(rng.choice(INBOUND_TR if rng.random() < 0.7 else INBOUND_EN), first)
                if channel == "email":
                    subject = self._fill(rng.choice(SUBJECTS), first)
                provider_id, delivery, error = f"bench-in-{mid}", None, None
            elif roll < 0.92:
                direction, author = "outbound", "agent"
                user, author_name = rng.choice(self.agents)
                text = self._fill(rng.choice(OUTBOUND), first)
                failed = rng.random() < 0.01
                delivery = "failed" if failed else rng.choice(("sent", "delivered", "read", "read"))
                error = "63016: outside the 24 hour window" if failed else None
                provider_id, identity_id = (None if failed else f"bench-out-{mid}"), None
            elif roll < 0.96:
                direction, author, provider_id, delivery, error, identity_id = "note", "agent", None, None, None, None
                user, author_name = rng.choice(self.agents)
                text = self._fill(rng.choice(NOTES), first)
            else:
                direction, author, author_name, user = "event", "system", "", None
                provider_id, delivery, error, identity_id = None, None, None, None
                text = self._fill(rng.choice(EVENTS), first)
            messages.append((mid, cid, cid, identity_id, direction, channel, author, user, author_name, text, None,
                             subject, provider_id, None, "[]", "{}", at, at if provider_id else None, at, None, None,
                             delivery, error, 0, None, None, None, None))
            if direction != "event":
                docs.append(self._doc("message", mid, cid, " ".join(p for p in (subject or "", text) if p), at))
                last = (mid, at, text, direction, channel)
            if direction in ("inbound", "outbound"):
                channels.add(channel)
            if direction == "inbound":
                last_inbound_channel = channel
                unread += 1
            elif direction == "outbound":
                unread = 0
        assert last is not None
        mid, at, text, direction, channel = last
        return (at, mid, preview(text), direction, channel, last_inbound_channel, " ".join(sorted(channels)),
                0 if status == "resolved" else unread)

    def _doc(self, kind: str, ref_id: int, customer_id: int, text: str, at: datetime) -> tuple[Any, ...]:
        self.doc_id += 1
        return (self.doc_id, kind, ref_id, customer_id, _folded(text), at)

    def orders(self, first: int, last: int) -> Rows:
        rng = self.random
        rows: Rows = {"order": [], "orderline": [], "search_doc": []}
        for cid in range(first, last + 1):
            for _ in range(self.order_counts[cid - 1]):
                self.order_id += 1
                oid = self.order_id
                placed = self.now - timedelta(minutes=rng.randrange(1, 60 * 24 * 700))
                status = rng.choice(ORDER_STATUSES)
                currency = "TRY" if rng.random() < 0.85 else rng.choice(("EUR", "USD"))
                titles, total = [], Decimal(0)
                for _line in range(rng.randint(1, 4)):
                    self.line_id += 1
                    title = f"{rng.choice(PRODUCTS)} {rng.choice(('Siyah', 'Lacivert', 'Black', 'Bej'))}"
                    price = Decimal(rng.randrange(9_900, 399_900)) / 100
                    quantity = rng.randint(1, 3)
                    rows["orderline"].append((self.line_id, oid, f"SKU-{rng.randrange(10_000, 99_999)}", title,
                                              quantity, price))
                    titles.append(title)
                    total += price * quantity
                number, external = str(100_000 + oid - 1), f"shop-{oid}"
                tracking = f"https://kargo.example/track/{oid}" if status in ("shipped", "delivered") else None
                rows["order"].append((oid, external, number, cid, status, total, currency, placed, tracking,
                                      rng.choice(("Kadıköy", "Online", "Nişantaşı", "London")), placed, placed))
                rows["search_doc"].append(self._doc("order", oid, cid, f"{number} {external} {' '.join(titles)}",
                                                    placed))
        return rows


# ---------------------------------------------------------------------------------------------
# Loading


TABLE_ORDER = ["user", "team", "teammember", "tag", "customer", "identity", "thread", "case", "casetag",
               "message", "order", "orderline", "search_doc", "preference", "mergesuggestion", "liveevent"]


def _quoted(name: str) -> str:
    return f'"{name}"'


class SQLiteLoader:
    def __init__(self, path: Path) -> None:
        sqlite3.register_adapter(datetime, lambda d: d.isoformat(" ", "microseconds"))
        sqlite3.register_adapter(Decimal, str)
        self.connection = sqlite3.connect(path, isolation_level=None)
        for pragma in ("journal_mode=OFF", "synchronous=OFF", "foreign_keys=OFF", "cache_size=-262144",
                       "temp_store=MEMORY"):
            self.connection.execute(f"PRAGMA {pragma}")
        self.connection.execute("BEGIN")

    async def write(self, rows: Rows) -> None:
        for table in TABLE_ORDER:
            if rows.get(table):
                columns = COLUMNS[table]
                self.connection.executemany(
                    f"INSERT INTO {_quoted(table)} ({', '.join(map(_quoted, columns))}) "
                    f"VALUES ({', '.join('?' * len(columns))})", rows[table])

    async def commit(self) -> None:
        self.connection.execute("COMMIT")
        self.connection.execute("BEGIN")

    async def finish(self) -> None:
        self.connection.execute("COMMIT")
        self.connection.execute("ANALYZE")
        self.connection.execute("PRAGMA journal_mode=WAL")
        self.connection.close()


class PostgresLoader:
    def __init__(self, connection: Any) -> None:
        self.connection = connection

    async def write(self, rows: Rows) -> None:
        for table in TABLE_ORDER:
            if rows.get(table):
                await self.connection.copy_records_to_table(table, records=rows[table], columns=COLUMNS[table])

    async def commit(self) -> None:
        return None

    async def finish(self) -> None:
        for table in TABLE_ORDER:
            if "id" in COLUMNS[table]:
                await self.connection.execute(
                    f"SELECT setval(pg_get_serial_sequence('{_quoted(table)}', 'id'), "
                    f"(SELECT coalesce(max(id), 1) FROM {_quoted(table)}))")
        await self.connection.execute("ANALYZE")
        await self.connection.close()


async def generate(loader: SQLiteLoader | PostgresLoader, sizes: Sizes, generator: Generator) -> None:
    progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                        console=console)
    with progress:
        await loader.write(generator.fixed())
        customers = progress.add_task("customers, threads, messages", total=sizes.customers)
        for first in range(1, sizes.customers + 1, CHUNK):
            last = min(sizes.customers, first + CHUNK - 1)
            await loader.write(generator.chunk(first, last))
            progress.update(customers, completed=last)
            if first % (CHUNK * 10) == 1:
                await loader.commit()
        orders = progress.add_task("orders", total=sizes.customers)
        for first in range(1, sizes.customers + 1, CHUNK * 5):
            last = min(sizes.customers, first + CHUNK * 5 - 1)
            await loader.write(generator.orders(first, last))
            progress.update(orders, completed=last)
        await loader.write(generator.last())
        finishing = progress.add_task("indexes and statistics", total=1)
        await loader.finish()
        progress.update(finishing, completed=1)


def _plain(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://")


def _async(url: str) -> str:
    return url.replace("postgresql://", "postgresql+asyncpg://", 1) if url.startswith("postgresql://") else url


async def _counts_postgres(url: str) -> dict[str, int]:
    import asyncpg

    connection = await asyncpg.connect(_plain(url))
    try:
        found = {}
        for table in ("customer", "message", "order"):
            exists = await connection.fetchval("SELECT to_regclass($1)", table)
            found[table] = int(await connection.fetchval(f'SELECT count(*) FROM "{table}"')) if exists else -1
        return found
    finally:
        await connection.close()


def _expected(sizes: Sizes) -> dict[str, int]:
    return {"customer": sizes.customers, "message": sizes.messages, "order": sizes.orders}


def _describe(sizes: Sizes, url: str, generator: Generator, seconds: float | None) -> Dataset:
    return Dataset(url, sizes, [f"agent{i}@bench.onethread.test" for i in range(1, AGENTS + 1)],
                   generator.heavy_threads, generator.order_heavy_threads, seconds, _expected(sizes))


async def load(url: str, sizes: Sizes) -> Generator:
    """Fill an empty database the migrations made at url; the generator tells what went in."""
    generator = Generator(sizes)
    if url.startswith("sqlite"):
        await generate(SQLiteLoader(Path(url.split("///", 1)[1])), sizes, generator)
    else:
        import asyncpg

        await generate(PostgresLoader(await asyncpg.connect(_plain(url))), sizes, generator)
    return generator


def sqlite_dataset(scale: float, *, directory: Path = DATA_DIR, fresh: bool = False) -> Dataset:
    sizes = Sizes.at(scale)
    path = directory / f"ui-{sizes.customers}-{sizes.messages}-{sizes.orders}.db"
    url = f"sqlite+aiosqlite:///{path}"
    if path.exists() and not fresh:
        console.print(f"SQLite dataset reused: {path}")
        upgrade(url)  # a newer migration (an index) applies to a cached dataset too
        return _describe(sizes, url, Generator(sizes), None)
    building = path.with_suffix(".building")
    for leftover in (building, path):
        leftover.unlink(missing_ok=True)
    started = time.perf_counter()
    upgrade(f"sqlite+aiosqlite:///{building}")
    generator = asyncio.run(load(f"sqlite+aiosqlite:///{building}", sizes))
    building.rename(path)  # only a complete dataset ever has the name the cache looks for
    seconds = time.perf_counter() - started
    console.print(f"SQLite dataset generated in {seconds:.0f} s: {path}")
    return _describe(sizes, url, generator, seconds)


def postgres_dataset(scale: float, url: str, *, fresh: bool = False) -> Dataset:
    import asyncpg

    sizes = Sizes.at(scale)
    url = _async(url)
    if not fresh and asyncio.run(_counts_postgres(url)) == _expected(sizes):
        console.print(f"PostgreSQL dataset reused: {url.rsplit('@', 1)[-1]}")
        upgrade(url)
        return _describe(sizes, url, Generator(sizes), None)
    started = time.perf_counter()

    async def reset() -> None:
        connection = await asyncpg.connect(_plain(url))
        await connection.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
        await connection.close()

    asyncio.run(reset())
    upgrade(url)
    generator = asyncio.run(load(url, sizes))
    seconds = time.perf_counter() - started
    console.print(f"PostgreSQL dataset generated in {seconds:.0f} s")
    return _describe(sizes, url, generator, seconds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/bench_ui")
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--fresh", action="store_true", help="generate again even if a dataset is cached")
    args = parser.parse_args()
    sqlite_dataset(args.scale, fresh=args.fresh)
    if not args.no_postgres:
        postgres_dataset(args.scale, args.postgres, fresh=args.fresh)


if __name__ == "__main__":
    main()
