"""WhatsApp message templates: approved texts (Twilio Content SIDs) that may be sent outside the 24-hour window

Revision ID: 59d010f7c3be
Revises: 4b7d2e9f0a61
Create Date: 2026-11-23 14:28:40.815983
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel  # noqa: F401
from alembic import op

import inbox.db  # noqa: F401  (column types)

revision: str = '59d010f7c3be'
down_revision: str | None = '4b7d2e9f0a61'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('message_template',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('channel', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('content_sid', sqlmodel.sql.sqltypes.AutoString(length=34), nullable=False),
    sa.Column('language', sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
    sa.Column('body', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('created_at', inbox.db.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_message_template')),
    sa.UniqueConstraint('name', name=op.f('uq_message_template_name'))
    )


def downgrade() -> None:
    op.drop_table('message_template')
