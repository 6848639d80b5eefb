"""Lineage runs: index parent_run_id only where a run has a parent.

Most runs are root runs; with a full index each new one was a random insert into the index's
NULL range, a page written per run for entries that no lookup by parent can ever match.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27 04:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

_WHERE = sa.text("parent_run_id IS NOT NULL")


def upgrade() -> None:
    op.drop_index('ix_lineage_runs_parent', table_name='lineage_runs')
    op.create_index(
        'ix_lineage_runs_parent', 'lineage_runs', ['parent_run_id'], unique=False,
        sqlite_where=_WHERE, postgresql_where=_WHERE,
    )


def downgrade() -> None:
    op.drop_index('ix_lineage_runs_parent', table_name='lineage_runs')
    op.create_index('ix_lineage_runs_parent', 'lineage_runs', ['parent_run_id'], unique=False)
