"""delivery statuses that arrive before their message's provider id is recorded

Revision ID: 4b7d2e9f0a61
Revises: 2f8a6c4d1e93
Create Date: 2026-11-23 15:10:00.000000
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import inbox.db

revision: str = '4b7d2e9f0a61'
down_revision: str | None = '2f8a6c4d1e93'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('early_receipt',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('channel', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('provider_id', sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
    sa.Column('error', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('received_at', inbox.db.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_early_receipt')),
    sa.UniqueConstraint('channel', 'provider_id', 'status', name=op.f('uq_early_receipt_channel_provider_id_status'))
    )
    with op.batch_alter_table('early_receipt', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_early_receipt_received_at'), ['received_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('early_receipt', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_early_receipt_received_at'))
    op.drop_table('early_receipt')
