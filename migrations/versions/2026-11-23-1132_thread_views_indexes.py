"""thread indexes for the per-channel and per-tag views

Revision ID: 7c1e4b2a9d10
Revises: 5b1e0c7d9a42
Create Date: 2026-11-23 11:30:00.000000
"""
from collections.abc import Sequence

from alembic import op

revision: str = '7c1e4b2a9d10'
down_revision: str | None = '5b1e0c7d9a42'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('thread', schema=None) as batch_op:
        # Channel first, like the team index: a (status, …) prefix would tempt SQLite's planner away
        # from ix_thread_status_activity for every status view, and it would sort 50k rows per page.
        batch_op.create_index('ix_thread_channel_activity',
                              ['last_inbound_channel', 'status', 'last_activity_at', 'id'], unique=False)
        batch_op.create_index('ix_thread_case_id', ['case_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('thread', schema=None) as batch_op:
        batch_op.drop_index('ix_thread_case_id')
        batch_op.drop_index('ix_thread_channel_activity')
