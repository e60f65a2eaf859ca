"""Poll positions: how far the IMAP poller has read each mailbox (UIDVALIDITY, last UID)

Revision ID: c0b77f5b5682
Revises: 59d010f7c3be
Create Date: 2026-12-02 02:56:42.972588
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel  # noqa: F401
from alembic import op

import inbox.db  # noqa: F401  (column types)

revision: str = 'c0b77f5b5682'
down_revision: str | None = '59d010f7c3be'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('poll_position',
    sa.Column('source', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
    sa.Column('epoch', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('position', sa.BigInteger(), nullable=False),
    sa.Column('updated_at', inbox.db.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('source', name=op.f('pk_poll_position'))
    )


def downgrade() -> None:
    op.drop_table('poll_position')
