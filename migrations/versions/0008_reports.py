"""The report index: one row per ``report`` ledger entry (an issued audit report).

No entry of this kind exists before this revision, so the ``reports`` projection's watermark starts
at the ledger's size: catching up does not read the whole ledger for nothing.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-10 12:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None

_KEY = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    op.create_table(
        'reports',
        sa.Column('ledger_index', _KEY, autoincrement=False, nullable=False),
        sa.Column('report_id', sa.String(length=71), nullable=False),
        sa.Column('framework', sa.String(length=16), nullable=False),
        sa.Column('period_start', sa.String(length=40), nullable=False),
        sa.Column('period_end', sa.String(length=40), nullable=False),
        sa.Column('checkpoint_size', sa.BigInteger(), nullable=False),
        sa.Column('data_sha256', sa.String(length=64), nullable=False),
        sa.Column('manifest_sha256', sa.String(length=64), nullable=False),
        sa.Column('issued_by', sa.Text(), nullable=True),
        sa.Column('issued_at', sa.String(length=40), nullable=False),
        sa.PrimaryKeyConstraint('ledger_index'),
    )
    op.create_index('ix_reports_report_id', 'reports', ['report_id'])
    op.execute(
        "INSERT INTO projection_state (name, next_index) SELECT 'reports', size FROM ledger_head "
        "WHERE id = 1"
    )


def downgrade() -> None:
    op.execute("DELETE FROM projection_state WHERE name = 'reports'")
    op.execute("DELETE FROM projection_failures WHERE projection = 'reports'")
    op.drop_index('ix_reports_report_id', table_name='reports')
    op.drop_table('reports')
