"""view counts kept by triggers on thread

Revision ID: 5b1e0c7d9a42
Revises: 3de87895a5de
Create Date: 2026-11-23 11:30:00

thread_count holds how many threads are in each (status, assignee); triggers on thread keep it
exact, so the inbox's view counts are a read of a few dozen rows instead of a count of the whole
thread table on every page. Filled from the threads already there.
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel  # noqa: F401
from alembic import op

revision: str = '5b1e0c7d9a42'
down_revision: str | None = '3de87895a5de'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

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


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for name in ("thread_count_ai", "thread_count_ad", "thread_count_au"):
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
    else:
        op.execute("DROP TRIGGER IF EXISTS thread_count_insert_delete ON thread")
        op.execute("DROP TRIGGER IF EXISTS thread_count_update ON thread")
        op.execute("DROP FUNCTION IF EXISTS thread_count_change()")
    op.drop_table('thread_count')
