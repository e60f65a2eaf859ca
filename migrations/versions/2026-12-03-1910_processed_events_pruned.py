"""processed_event rows are forgotten after a while: an index on when each was processed

Revision ID: 5b1f0c7d2e34
Revises: 9802b22423aa
Create Date: 2026-12-03 19:10:00
"""
from collections.abc import Sequence

from alembic import op

revision: str = '5b1f0c7d2e34'
down_revision: str | None = '9802b22423aa'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('processed_event', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_processed_event_processed_at'), ['processed_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('processed_event', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_processed_event_processed_at'))
