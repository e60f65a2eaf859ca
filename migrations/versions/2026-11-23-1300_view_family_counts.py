"""open threads per channel, team and tag, kept by triggers

Revision ID: 9d3f6a1c2b7e
Revises: 7c1e4b2a9d10
Create Date: 2026-11-23 13:00:00

The views per channel, team and tag show how many open threads each holds. Counting them per page
cost 20-70 ms at 200k threads (a scan of the open threads, a join of every case tag); this table
holds one row per channel, team and tag, and triggers keep it exact: on thread when its status,
last inbound channel, team or current case changes, and on casetag when a case gains or loses a tag.
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel  # noqa: F401
from alembic import op

revision: str = '9d3f6a1c2b7e'
down_revision: str | None = '7c1e4b2a9d10'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The (family, ref) rows a thread row counts towards while it is open: {row} is NEW or OLD.
_KEYS = """
    SELECT 'channel' AS family, {row}.last_inbound_channel AS ref WHERE {row}.status = 'open' AND {row}.last_inbound_channel <> ''
    UNION ALL SELECT 'team', CAST({row}.team_id AS VARCHAR(40)) WHERE {row}.status = 'open' AND {row}.team_id IS NOT NULL
    UNION ALL SELECT 'tag', CAST(tag_id AS VARCHAR(40)) FROM casetag WHERE {row}.status = 'open' AND case_id = {row}.case_id
"""
_TAG_OF_OPEN = "EXISTS (SELECT 1 FROM thread WHERE thread.case_id = {row}.case_id AND thread.status = 'open')"
_CHANGED = ("old.status IS DISTINCT FROM new.status OR old.last_inbound_channel IS DISTINCT FROM new.last_inbound_channel "
            "OR old.team_id IS DISTINCT FROM new.team_id OR old.case_id IS DISTINCT FROM new.case_id")


def upgrade() -> None:
    op.create_table('view_family_count',
    sa.Column('family', sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
    sa.Column('ref', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('n', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('family', 'ref', name=op.f('pk_view_family_count'))
    )
    if op.get_bind().dialect.name == "sqlite":
        _sqlite_triggers()
    else:
        _postgresql_triggers()
    op.execute("""
        INSERT INTO view_family_count (family, ref, n) SELECT family, ref, count(*) FROM (
          SELECT 'channel' AS family, last_inbound_channel AS ref FROM thread
            WHERE status = 'open' AND last_inbound_channel <> ''
          UNION ALL SELECT 'team', CAST(team_id AS VARCHAR(40)) FROM thread WHERE status = 'open' AND team_id IS NOT NULL
          UNION ALL SELECT 'tag', CAST(casetag.tag_id AS VARCHAR(40)) FROM casetag
            JOIN thread ON thread.case_id = casetag.case_id WHERE thread.status = 'open'
        ) open_refs GROUP BY family, ref""")


def _sqlite_triggers() -> None:
    def add(row: str) -> str:
        return (f"INSERT INTO view_family_count (family, ref, n) SELECT family, ref, 1 FROM ({_KEYS.format(row=row)}) "
                "WHERE true ON CONFLICT (family, ref) DO UPDATE SET n = view_family_count.n + 1")

    def remove(row: str) -> str:
        return (f"UPDATE view_family_count SET n = n - 1 WHERE (family, ref) IN ({_KEYS.format(row=row)})")

    op.execute(f"CREATE TRIGGER view_family_count_ai AFTER INSERT ON thread BEGIN {add('new')}; END")
    op.execute(f"CREATE TRIGGER view_family_count_ad AFTER DELETE ON thread BEGIN {remove('old')}; END")
    op.execute("CREATE TRIGGER view_family_count_au AFTER UPDATE OF status, last_inbound_channel, team_id, case_id "
               f"ON thread WHEN {_CHANGED.replace('IS DISTINCT FROM', 'IS NOT')} "
               f"BEGIN {remove('old')}; {add('new')}; END")
    tag = ("INSERT INTO view_family_count (family, ref, n) SELECT 'tag', CAST(new.tag_id AS VARCHAR(40)), 1 "
           f"WHERE {_TAG_OF_OPEN.format(row='new')} ON CONFLICT (family, ref) DO UPDATE SET n = view_family_count.n + 1")
    untag = (f"UPDATE view_family_count SET n = n - 1 WHERE family = 'tag' AND ref = CAST(old.tag_id AS VARCHAR(40)) "
             f"AND {_TAG_OF_OPEN.format(row='old')}")
    op.execute(f"CREATE TRIGGER view_family_count_tag_ai AFTER INSERT ON casetag BEGIN {tag}; END")
    op.execute(f"CREATE TRIGGER view_family_count_tag_ad AFTER DELETE ON casetag BEGIN {untag}; END")


def _postgresql_triggers() -> None:
    # Every change applies its +1s and -1s one key at a time in (family, ref) order, so two
    # transactions touching the same rows take their locks in the same order and never deadlock.
    op.execute(f"""
        CREATE FUNCTION view_family_count_change() RETURNS trigger LANGUAGE plpgsql AS $$
        DECLARE change RECORD;
        BEGIN
          FOR change IN
            SELECT family, ref, sum(delta) AS delta FROM (
              SELECT family, ref, -1 AS delta FROM ({_KEYS.format(row='OLD')}) gone WHERE TG_OP IN ('UPDATE', 'DELETE')
              UNION ALL
              SELECT family, ref, 1 FROM ({_KEYS.format(row='NEW')}) came WHERE TG_OP IN ('UPDATE', 'INSERT')
            ) changes GROUP BY family, ref HAVING sum(delta) <> 0 ORDER BY family, ref
          LOOP
            INSERT INTO view_family_count (family, ref, n) VALUES (change.family, change.ref, change.delta)
            ON CONFLICT (family, ref) DO UPDATE SET n = view_family_count.n + change.delta;
          END LOOP;
          RETURN NULL;
        END $$""")
    op.execute("CREATE TRIGGER view_family_count_insert_delete AFTER INSERT OR DELETE ON thread "
               "FOR EACH ROW EXECUTE FUNCTION view_family_count_change()")
    op.execute("CREATE TRIGGER view_family_count_update AFTER UPDATE OF status, last_inbound_channel, team_id, case_id "
               f"ON thread FOR EACH ROW WHEN ({_CHANGED}) EXECUTE FUNCTION view_family_count_change()")
    op.execute(f"""
        CREATE FUNCTION view_family_count_tag() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          IF TG_OP = 'INSERT' AND {_TAG_OF_OPEN.format(row='NEW')} THEN
            INSERT INTO view_family_count (family, ref, n) VALUES ('tag', CAST(NEW.tag_id AS VARCHAR(40)), 1)
            ON CONFLICT (family, ref) DO UPDATE SET n = view_family_count.n + 1;
          ELSIF TG_OP = 'DELETE' AND {_TAG_OF_OPEN.format(row='OLD')} THEN
            UPDATE view_family_count SET n = n - 1 WHERE family = 'tag' AND ref = CAST(OLD.tag_id AS VARCHAR(40));
          END IF;
          RETURN NULL;
        END $$""")
    op.execute("CREATE TRIGGER view_family_count_tag AFTER INSERT OR DELETE ON casetag "
               "FOR EACH ROW EXECUTE FUNCTION view_family_count_tag()")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for name in ("view_family_count_ai", "view_family_count_ad", "view_family_count_au",
                     "view_family_count_tag_ai", "view_family_count_tag_ad"):
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
    else:
        op.execute("DROP TRIGGER IF EXISTS view_family_count_insert_delete ON thread")
        op.execute("DROP TRIGGER IF EXISTS view_family_count_update ON thread")
        op.execute("DROP TRIGGER IF EXISTS view_family_count_tag ON casetag")
        op.execute("DROP FUNCTION IF EXISTS view_family_count_change()")
        op.execute("DROP FUNCTION IF EXISTS view_family_count_tag()")
    op.drop_table('view_family_count')
