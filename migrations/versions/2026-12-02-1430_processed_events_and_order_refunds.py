"""Shop webhooks applied once (processed_event) and order refunds

Revision ID: 9802b22423aa
Revises: 41d82cc394e5
Create Date: 2026-12-02 14:14:07.414476
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel  # noqa: F401
from alembic import op

import inbox.db  # noqa: F401  (column types)

revision: str = '9802b22423aa'
down_revision: str | None = '41d82cc394e5'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('processed_event',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('source', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('event_id', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('topic', sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
    sa.Column('processed_at', inbox.db.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_processed_event')),
    sa.UniqueConstraint('source', 'event_id', name=op.f('uq_processed_event_source_event_id'))
    )
    op.create_table('order_refund',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('order_id', sa.Integer(), nullable=False),
    sa.Column('external_id', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('amount', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('refunded_at', inbox.db.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['order_id'], ['order.id'], name=op.f('fk_order_refund_order_id_order')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_order_refund')),
    sa.UniqueConstraint('external_id', name=op.f('uq_order_refund_external_id'))
    )
    with op.batch_alter_table('order_refund', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_order_refund_order_id'), ['order_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('order_refund', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_order_refund_order_id'))

    op.drop_table('order_refund')
    op.drop_table('processed_event')
