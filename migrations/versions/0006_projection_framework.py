"""Projections: one watermark row per projection, and the entries a projection could not apply.

``projection_state`` replaces ``lineage_projection_state`` (the lineage watermark moves over). The
attestation verdicts become a projection too: their rows were written beside the ledger until
now, so their watermark starts at the ledger's size (rows for earlier entries stay as written;
``governance ledger reindex`` rebuilds them from the entries). Lineage entries that could not be
projected were recorded in ``lineage_warnings`` at position -1; they move to
``projection_failures``.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04 17:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'projection_state',
        sa.Column('name', sa.String(length=64), nullable=False),
        sa.Column('next_index', sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint('name'),
    )
    op.create_table(
        'projection_failures',
        sa.Column('projection', sa.String(length=64), nullable=False),
        sa.Column('ledger_index', sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column('error', sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint('projection', 'ledger_index'),
    )
    op.execute(
        "INSERT INTO projection_state (name, next_index) "
        "SELECT 'lineage', next_index FROM lineage_projection_state WHERE id = 1"
    )
    op.execute(
        "INSERT INTO projection_state (name, next_index) "
        "SELECT 'attestation-verdicts', size FROM ledger_head WHERE id = 1"
    )
    op.execute(
        "INSERT INTO projection_failures (projection, ledger_index, error) "
        "SELECT 'lineage', ledger_index, message FROM lineage_warnings WHERE position < 0"
    )
    op.execute("DELETE FROM lineage_warnings WHERE position < 0")
    op.drop_table('lineage_projection_state')


def downgrade() -> None:
    op.create_table(
        'lineage_projection_state',
        sa.Column('id', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('next_index', sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )
    op.execute(
        "INSERT INTO lineage_projection_state (id, next_index) "
        "SELECT 1, next_index FROM projection_state WHERE name = 'lineage'"
    )
    op.execute(
        "INSERT INTO lineage_warnings (ledger_index, position, path, message) "
        "SELECT ledger_index, -1, '$', error FROM projection_failures WHERE projection = 'lineage'"
    )
    op.drop_table('projection_failures')
    op.drop_table('projection_state')
