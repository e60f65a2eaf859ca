"""Full-text search over customers, messages and orders, folded the Turkish way in our own code.

Documents live in search_doc with their text already folded (inbox.text.fold). A search looks in
one kind, so each kind has its own full-text index: on SQLite an FTS5 external-content table per
kind (search_fts_<kind>) kept in step by triggers, on PostgreSQL a generated tsvector column with
a partial GIN index per kind. All made by the migrations; callers only write search_doc.
"""

import functools
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Column, Index, TextClause, bindparam, delete, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import Field, SQLModel

from inbox.db import BigIntId, UTCDateTime, insert_many, table_of, utcnow
from inbox.text import fold, terms


class SearchDoc(SQLModel, table=True):
    __tablename__ = "search_doc"
    __table_args__ = (Index("ix_search_doc_kind_ref", "kind", "ref_id"),)

    id: int | None = Field(default=None, sa_column=Column(BigIntId, primary_key=True, autoincrement=True))
    kind: str = Field(max_length=10)
    ref_id: int
    customer_id: int = Field(index=True)
    body: str = ""
    at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


_DOCS = table_of(SearchDoc)
_DELETE_DOC = delete(_DOCS).where(_DOCS.c.kind == bindparam("kind"), _DOCS.c.ref_id == bindparam("ref_id"))


# Not frozen: ingest makes several of these per message, and a frozen dataclass's __init__ costs 5×.
@dataclass(slots=True)
class Document:
    kind: str
    ref_id: int
    customer_id: int
    text: str
    at: datetime


async def index_document(session: AsyncSession, *, kind: str, ref_id: int, customer_id: int,
                         text: str, at: datetime, replace: bool = False) -> None:
    if replace:
        await session.execute(_DELETE_DOC, {"kind": kind, "ref_id": ref_id})
    await index_documents(session, [Document(kind, ref_id, customer_id, text, at)])


async def index_documents(session: AsyncSession, documents: Sequence[Document]) -> None:
    """Add new documents in one statement; one whose text folds to nothing is not worth a row."""
    rows = [{"kind": doc.kind, "ref_id": doc.ref_id, "customer_id": doc.customer_id, "body": body, "at": doc.at}
            for doc in documents if (body := fold(doc.text)).strip()]
    await insert_many(session, SearchDoc, rows, returning=())


@dataclass(frozen=True, slots=True)
class Hit:
    kind: str
    ref_id: int
    customer_id: int
    # The document's own id: newest first means by it, so it is also the cursor of the next page.
    doc_id: int = 0


KINDS = ("customer", "message", "order")
# PostgreSQL looks at this many of a kind's newest documents first (ix_search_doc_newest_<kind>):
# a common word is found there in a millisecond, where the GIN index would hand back every one
# of its matches to be sorted.
_RECENT = 2_000
# "Older than nothing": the first page.
_NEWEST = 2**62


async def search(session: AsyncSession, q: str, *, kind: str, limit: int = 20, before: int | None = None) -> list[Hit]:
    """Documents of one kind matching every word of q (as prefixes), newest first, older than `before`.

    Newest-first rides the index order (FTS5 rowid, PostgreSQL id) instead of ranking every
    match: bm25 over a million messages costs hundreds of milliseconds, the newest window a few.
    """
    words = terms(q)
    if not words or kind not in KINDS:
        return []
    below = before if before is not None else _NEWEST
    if session.get_bind().dialect.name == "sqlite":
        # The kind is one of KINDS, so naming its table in the SQL is safe.
        statement = text(
            f"SELECT d.kind, d.ref_id, d.customer_id, d.id FROM search_fts_{kind} f "
            "JOIN search_doc d ON d.id = f.rowid "
            f"WHERE search_fts_{kind} MATCH :match AND f.rowid < :below ORDER BY f.rowid DESC LIMIT :limit"
        ).bindparams(match=" AND ".join(f'"{t}"*' for t in words), below=below, limit=limit)
        rows = list((await session.execute(statement)).all())
    else:
        values = {"query": " & ".join(f"{t}:*" for t in words), "below": below, "limit": limit}
        rows = list((await session.execute(_recent(kind), values)).all()) if before is None else []
        if len(rows) < limit:
            # Fewer matches than asked for among the newest (or a later page): ask the kind's GIN
            # index for all of them. PostgreSQL guesses a prefix's matches badly and would rather
            # test every row of the kind in id order (300 ms); for this one statement it is told not to.
            await session.execute(_PLAIN_INDEX_SCANS_OFF)
            rows = list((await session.execute(_every(kind), values)).all())
            await session.execute(_PLAIN_INDEX_SCANS_ON)
    return [Hit(kind=r[0], ref_id=int(r[1]), customer_id=int(r[2]), doc_id=int(r[3])) for r in rows]


@functools.cache
def _recent(kind: str) -> TextClause:
    # The kind is a literal, not a parameter, so a prepared statement's generic plan still
    # matches the partial index of that kind.
    return text(f"SELECT kind, ref_id, customer_id, id FROM (SELECT * FROM search_doc WHERE kind = '{kind}' "
                f"ORDER BY id DESC LIMIT {_RECENT}) recent "
                "WHERE tsv @@ to_tsquery('simple', :query) AND id < :below ORDER BY id DESC LIMIT :limit")


_PLAIN_INDEX_SCANS_OFF = text("SET LOCAL enable_indexscan = off")
_PLAIN_INDEX_SCANS_ON = text("SET LOCAL enable_indexscan = on")


@functools.cache
def _every(kind: str) -> TextClause:
    # "id + 0": sorting on an expression keeps the planner from walking the whole id index.
    return text(f"SELECT kind, ref_id, customer_id, id FROM search_doc WHERE kind = '{kind}' "
                "AND tsv @@ to_tsquery('simple', :query) AND id < :below ORDER BY id + 0 DESC LIMIT :limit")


async def search_customer_ids(session: AsyncSession, q: str, *, limit: int = 20) -> list[int]:
    return [hit.customer_id for hit in await search(session, q, kind="customer", limit=limit)]


async def forget_deleted(session: AsyncSession, during: Callable[[], Awaitable[None]]) -> None:
    """Run `during` (which deletes documents) so that what it deletes cannot be read back from the file.

    On SQLite a deleted row's bytes stay in its freed page and an FTS5 index keeps a deleted
    document's words until its segments are merged: secure_delete zeroes the pages, and
    'optimize' merges each kind's index into one segment without them (a rewrite of the index,
    acceptable for an erasure, which is rare). PostgreSQL's dead rows go with (auto)vacuum.
    """
    if session.get_bind().dialect.name != "sqlite":
        await during()
        return
    await session.execute(text("PRAGMA secure_delete = ON"))
    try:
        await during()
        for kind in KINDS:
            # The kind is one of KINDS, so naming its table in the SQL is safe.
            await session.execute(text(f"INSERT INTO search_fts_{kind}(search_fts_{kind}) VALUES ('optimize')"))
    finally:
        await session.execute(text("PRAGMA secure_delete = OFF"))
