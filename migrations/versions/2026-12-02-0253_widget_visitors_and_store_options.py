"""Web chat visitors (tokens, tickets, presence), agents online (sign-in sessions live until), shop options

Revision ID: 41d82cc394e5
Revises: c0b77f5b5682
Create Date: 2026-12-02 02:53:07.403379
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel  # noqa: F401
from alembic import op

import inbox.db  # noqa: F401  (column types)

revision: str = '41d82cc394e5'
down_revision: str | None = 'c0b77f5b5682'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('shop_option',
    sa.Column('key', sqlmodel.sql.sqltypes.AutoString(length=60), nullable=False),
    sa.Column('value', sa.JSON(), nullable=False),
    sa.Column('updated_at', inbox.db.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_shop_option'))
    )
    op.create_table('widget_visitor',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('address', sqlmodel.sql.sqltypes.AutoString(length=320), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('verified', sa.Boolean(), nullable=False),
    sa.Column('client', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('created_at', inbox.db.UTCDateTime(), nullable=False),
    sa.Column('online_until', inbox.db.UTCDateTime(), nullable=True),
    sa.Column('tickets_issued', sa.Integer(), nullable=False),
    sa.Column('ticket_used', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_widget_visitor')),
    sa.UniqueConstraint('key', name=op.f('uq_widget_visitor_key'))
    )
    with op.batch_alter_table('widget_visitor', schema=None) as batch_op:
        batch_op.create_index('ix_widget_visitor_client_created', ['client', 'created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_widget_visitor_address'), ['address'], unique=False)

    with op.batch_alter_table('sign_in_session', schema=None) as batch_op:
        batch_op.add_column(sa.Column('live_until', inbox.db.UTCDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('sign_in_session', schema=None) as batch_op:
        batch_op.drop_column('live_until')

    with op.batch_alter_table('widget_visitor', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_widget_visitor_address'))
        batch_op.drop_index('ix_widget_visitor_client_created')

    op.drop_table('widget_visitor')
    op.drop_table('shop_option')
