"""view counts kept by triggers, full-text indexes by kind, the sidebar's orders by date

Revision ID: 5b1e0c7d9a42
Revises: 0aae4cdc71fb
Create Date: 2026-11-23 11:30:00

thread_count holds how many threads are in each (status, assignee); triggers on thread keep it
exact, so the inbox's view counts are a read of a few dozen rows instead of a count of the whole
thread table on every page. Filled from the threads already there.

Search looks in one kind at a time (customers, messages or orders): one full-text index per kind
(an FTS5 table on SQLite, partial GIN and id indexes on PostgreSQL) keeps a word common in
messages from costing a search of customers, and serves newest-first within a kind.
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel  # noqa: F401
from alembic import op

revision: str = '5b1e0c7d9a42'
down_revision: str | None = '0aae4cdc71fb'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KINDS = ("customer", "message", "order")
_TOKENIZE = "tokenize='unicode61 remove_diacritics 2'"
_KEY_OLD = "status = old.status AND assignee_id = coalesce(old.assignee_id, 0)"
_CHANGED = "old.status IS DISTINCT FROM new.status OR old.assignee_id IS DISTINCT FROM new.assignee_id"


def upgrade() -> None:
    op.create_table('thread_count',
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False),
    sa.Column('assignee_id', sa.Integer(), nullable=False),
    sa.Column('n', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('status', 'assignee_id', name=op.f('pk_thread_count'))
    )
    add = ("INSERT INTO thread_count (status, assignee_id, n) VALUES ({row}.status, coalesce({row}.assignee_id, 0), 1) "
           "ON CONFLICT (status, assignee_id) DO UPDATE SET n = thread_count.n + 1")
    remove = f"UPDATE thread_count SET n = n - 1 WHERE {_KEY_OLD}"
    if op.get_bind().dialect.name == "sqlite":
        op.execute(f"CREATE TRIGGER thread_count_ai AFTER INSERT ON thread BEGIN {add.format(row='new')}; END")
        op.execute(f"CREATE TRIGGER thread_count_ad AFTER DELETE ON thread BEGIN {remove}; END")
        op.execute(f"CREATE TRIGGER thread_count_au AFTER UPDATE OF status, assignee_id ON thread "
                   f"WHEN {_CHANGED.replace('IS DISTINCT FROM', 'IS NOT')} BEGIN {remove}; {add.format(row='new')}; END")
    else:
        # Two rows change in one update: taken in key order, so two transactions moving threads in
        # opposite directions (open -> resolved, resolved -> open) wait for each other, never deadlock.
        op.execute(f"""
            CREATE FUNCTION thread_count_change() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
              IF TG_OP = 'INSERT' THEN
                {add.format(row='NEW')};
              ELSIF TG_OP = 'DELETE' THEN
                {remove};
              ELSIF (OLD.status, coalesce(OLD.assignee_id, 0)) < (NEW.status, coalesce(NEW.assignee_id, 0)) THEN
                {remove}; {add.format(row='NEW')};
              ELSE
                {add.format(row='NEW')}; {remove};
              END IF;
              RETURN NULL;
            END $$""")
        op.execute("CREATE TRIGGER thread_count_insert_delete AFTER INSERT OR DELETE ON thread "
                   "FOR EACH ROW EXECUTE FUNCTION thread_count_change()")
        op.execute(f"CREATE TRIGGER thread_count_update AFTER UPDATE OF status, assignee_id ON thread "
                   f"FOR EACH ROW WHEN ({_CHANGED}) EXECUTE FUNCTION thread_count_change()")
    op.execute("INSERT INTO thread_count (status, assignee_id, n) "
               "SELECT status, coalesce(assignee_id, 0), count(*) FROM thread GROUP BY status, coalesce(assignee_id, 0)")
    _search_by_kind()
    with op.batch_alter_table('order', schema=None) as batch_op:
        batch_op.create_index('ix_order_customer_placed', ['customer_id', 'placed_at', 'id'], unique=False)


def _search_by_kind() -> None:
    if op.get_bind().dialect.name != "sqlite":
        for kind in KINDS:
            op.execute(f"CREATE INDEX ix_search_doc_tsv_{kind} ON search_doc USING gin (tsv) WHERE kind = '{kind}'")
            op.execute(f"CREATE INDEX ix_search_doc_newest_{kind} ON search_doc (id) WHERE kind = '{kind}'")
        op.execute("DROP INDEX ix_search_doc_tsv")
        return
    for name in ("search_doc_ai", "search_doc_ad", "search_doc_au"):
        op.execute(f"DROP TRIGGER {name}")
    op.execute("DROP TABLE search_fts")
    for kind in KINDS:
        fts = f"search_fts_{kind}"
        op.execute(f"CREATE VIRTUAL TABLE {fts} USING fts5(body, content='search_doc', content_rowid='id', {_TOKENIZE})")
        add = f"INSERT INTO {fts}(rowid, body) VALUES (new.id, new.body)"
        drop = f"INSERT INTO {fts}({fts}, rowid, body) VALUES ('delete', old.id, old.body)"
        op.execute(f"CREATE TRIGGER {fts}_ai AFTER INSERT ON search_doc WHEN new.kind = '{kind}' BEGIN {add}; END")
        op.execute(f"CREATE TRIGGER {fts}_ad AFTER DELETE ON search_doc WHEN old.kind = '{kind}' BEGIN {drop}; END")
        # Only a change of the words touches the index: a merge re-owning documents does not.
        # One trigger doing both in order: SQLite gives no order between two triggers.
        op.execute(f"CREATE TRIGGER {fts}_au AFTER UPDATE OF body, kind ON search_doc "
                   f"WHEN old.kind = '{kind}' OR new.kind = '{kind}' BEGIN "
                   f"INSERT INTO {fts}({fts}, rowid, body) SELECT 'delete', old.id, old.body WHERE old.kind = '{kind}'; "
                   f"INSERT INTO {fts}(rowid, body) SELECT new.id, new.body WHERE new.kind = '{kind}'; END")
        op.execute(f"INSERT INTO {fts}(rowid, body) SELECT id, body FROM search_doc WHERE kind = '{kind}'")


def _search_as_before() -> None:
    if op.get_bind().dialect.name != "sqlite":
        op.execute("CREATE INDEX ix_search_doc_tsv ON search_doc USING gin (tsv)")
        for kind in KINDS:
            op.execute(f"DROP INDEX ix_search_doc_tsv_{kind}")
            op.execute(f"DROP INDEX ix_search_doc_newest_{kind}")
    else:
        for kind in KINDS:
            for suffix in ("ai", "ad", "au"):
                op.execute(f"DROP TRIGGER search_fts_{kind}_{suffix}")
            op.execute(f"DROP TABLE search_fts_{kind}")
        op.execute(f"CREATE VIRTUAL TABLE search_fts USING fts5(body, kind, content='search_doc', "
                   f"content_rowid='id', {_TOKENIZE})")
        op.execute("CREATE TRIGGER search_doc_ai AFTER INSERT ON search_doc BEGIN "
                   "INSERT INTO search_fts(rowid, body, kind) VALUES (new.id, new.body, new.kind); END")
        op.execute("CREATE TRIGGER search_doc_ad AFTER DELETE ON search_doc BEGIN "
                   "INSERT INTO search_fts(search_fts, rowid, body, kind) VALUES ('delete', old.id, old.body, old.kind); END")
        op.execute("CREATE TRIGGER search_doc_au AFTER UPDATE ON search_doc BEGIN "
                   "INSERT INTO search_fts(search_fts, rowid, body, kind) VALUES ('delete', old.id, old.body, old.kind); "
                   "INSERT INTO search_fts(rowid, body, kind) VALUES (new.id, new.body, new.kind); END")
        op.execute("INSERT INTO search_fts(search_fts) VALUES ('rebuild')")


def downgrade() -> None:
    with op.batch_alter_table('order', schema=None) as batch_op:
        batch_op.drop_index('ix_order_customer_placed')
    _search_as_before()
    if op.get_bind().dialect.name == "sqlite":
        for name in ("thread_count_ai", "thread_count_ad", "thread_count_au"):
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
    else:
        op.execute("DROP TRIGGER IF EXISTS thread_count_insert_delete ON thread")
        op.execute("DROP TRIGGER IF EXISTS thread_count_update ON thread")
        op.execute("DROP FUNCTION IF EXISTS thread_count_change()")
    op.drop_table('thread_count')
