"""Full-text search over customers, messages and orders, folded the Turkish way in our own code.

Documents live in search_doc with their text already folded (inbox.text.fold). SQLite indexes it
with an FTS5 external-content table kept in step by triggers; PostgreSQL with a generated
tsvector column and a GIN index. Both are made by the migrations; callers only write search_doc.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Column, Index, bindparam, delete, insert, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import Field, SQLModel

from inbox.db import BigIntId, UTCDateTime, table_of, utcnow
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
_INSERT_DOC = insert(_DOCS)
_DELETE_DOC = delete(_DOCS).where(_DOCS.c.kind == bindparam("kind"), _DOCS.c.ref_id == bindparam("ref_id"))


@dataclass(frozen=True, slots=True)
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
    if rows:
        await session.execute(_INSERT_DOC, rows)


@dataclass(frozen=True, slots=True)
class Hit:
    kind: str
    ref_id: int
    customer_id: int
    # The document's own id: newest first means by it, so it is also the cursor of the next page.
    doc_id: int = 0


async def search(session: AsyncSession, q: str, *, kind: str, limit: int = 20, before: int | None = None) -> list[Hit]:
    """Documents of one kind matching every word of q (as prefixes), newest first, older than `before`.

    Newest-first rides the index order (FTS5 rowid, PostgreSQL id) instead of ranking every
    match: bm25 over a million messages costs hundreds of milliseconds, the newest window a few.
    """
    words = terms(q)
    if not words:
        return []
    below = before if before is not None else 2**62
    if session.get_bind().dialect.name == "sqlite":
        match = f'kind : {kind} AND body : ({" AND ".join(f""""{t}"*""" for t in words)})'
        statement = text(
            "SELECT d.kind, d.ref_id, d.customer_id, d.id FROM search_fts JOIN search_doc d ON d.id = search_fts.rowid "
            "WHERE search_fts MATCH :match AND search_fts.rowid < :below ORDER BY search_fts.rowid DESC LIMIT :limit"
        ).bindparams(match=match, below=below, limit=limit)
    else:
        query = " & ".join(f"{t}:*" for t in words)
        statement = text(
            "SELECT kind, ref_id, customer_id, id FROM search_doc "
            "WHERE kind = :kind AND tsv @@ to_tsquery('simple', :query) AND id < :below ORDER BY id DESC LIMIT :limit"
        ).bindparams(kind=kind, query=query, below=below, limit=limit)
    rows = (await session.execute(statement)).all()
    return [Hit(kind=r[0], ref_id=int(r[1]), customer_id=int(r[2]), doc_id=int(r[3])) for r in rows]


async def search_customer_ids(session: AsyncSession, q: str, *, limit: int = 20) -> list[int]:
    return [hit.customer_id for hit in await search(session, q, kind="customer", limit=limit)]
