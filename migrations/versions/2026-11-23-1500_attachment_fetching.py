"""the media worker's bookkeeping on attachments still at the provider

Revision ID: 2f8a6c4d1e93
Revises: 9d3f6a1c2b7e
Create Date: 2026-11-23 15:00:00.000000
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import inbox.db

revision: str = '2f8a6c4d1e93'
down_revision: str | None = '9d3f6a1c2b7e'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TO_FETCH = "sha256 IS NULL AND source_url IS NOT NULL AND fetch_error IS NULL"


def upgrade() -> None:
    with op.batch_alter_table('attachment', schema=None) as batch_op:
        batch_op.add_column(sa.Column('fetch_attempts', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('fetch_after', inbox.db.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column('fetch_error', sa.String(), nullable=True))
    with op.batch_alter_table('attachment', schema=None) as batch_op:
        batch_op.alter_column('fetch_attempts', server_default=None)
        batch_op.create_index('ix_attachment_to_fetch', ['fetch_after', 'id'], unique=False,
                              sqlite_where=sa.text(TO_FETCH), postgresql_where=sa.text(TO_FETCH))


def downgrade() -> None:
    with op.batch_alter_table('attachment', schema=None) as batch_op:
        batch_op.drop_index('ix_attachment_to_fetch', sqlite_where=sa.text(TO_FETCH),
                            postgresql_where=sa.text(TO_FETCH))
        batch_op.drop_column('fetch_error')
        batch_op.drop_column('fetch_after')
        batch_op.drop_column('fetch_attempts')
