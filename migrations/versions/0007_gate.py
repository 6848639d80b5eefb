"""The gate: decisions, approvals and waivers, projected from their ledger entries.

No entry of these kinds exists before this revision, so the ``gate`` projection's watermark starts
at the ledger's size: catching up does not read the whole ledger for nothing.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04 21:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None

_KEY = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    op.create_table(
        'gate_decisions',
        sa.Column('ledger_index', _KEY, autoincrement=False, nullable=False),
        sa.Column('decision_id', sa.String(length=36), nullable=False),
        sa.Column('digest', sa.String(length=71), nullable=False),
        sa.Column('model_name', sa.Text(), nullable=False),
        sa.Column('model_version', sa.Text(), nullable=False),
        sa.Column('target', sa.Text(), nullable=False),
        sa.Column('outcome', sa.String(length=8), nullable=False),
        sa.Column('allow', sa.Boolean(), nullable=False),
        sa.Column('mode', sa.String(length=16), nullable=False),
        sa.Column('requested_by', sa.Text(), nullable=False),
        sa.Column('evaluated_at', sa.String(length=40), nullable=False),
        sa.Column('summary', sa.Text(), nullable=False),
        sa.Column('results', sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint('ledger_index'),
    )
    op.create_index('ix_gate_decisions_decision_id', 'gate_decisions', ['decision_id'], unique=True)
    op.create_index('ix_gate_decisions_digest_target', 'gate_decisions', ['digest', 'target'])
    op.create_table(
        'gate_approvals',
        sa.Column('ledger_index', _KEY, autoincrement=False, nullable=False),
        sa.Column('digest', sa.String(length=71), nullable=False),
        sa.Column('target', sa.Text(), nullable=False),
        sa.Column('approver', sa.Text(), nullable=False),
        sa.Column('decision_id', sa.String(length=36), nullable=True),
        sa.Column('approved_at', sa.String(length=40), nullable=False),
        sa.Column('comment', sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint('ledger_index'),
    )
    op.create_index('ix_gate_approvals_digest_target', 'gate_approvals', ['digest', 'target'])
    op.create_table(
        'gate_waivers',
        sa.Column('ledger_index', _KEY, autoincrement=False, nullable=False),
        sa.Column('control', sa.String(length=64), nullable=False),
        sa.Column('digest', sa.String(length=71), nullable=False),
        sa.Column('target', sa.Text(), nullable=False),
        sa.Column('approver', sa.Text(), nullable=False),
        sa.Column('granted_at', sa.String(length=40), nullable=False),
        sa.Column('expires_at', sa.String(length=40), nullable=False),
        sa.Column('reason', sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint('ledger_index'),
    )
    op.create_index('ix_gate_waivers_digest_target', 'gate_waivers', ['digest', 'target'])
    op.execute(
        "INSERT INTO projection_state (name, next_index) SELECT 'gate', size FROM ledger_head "
        "WHERE id = 1"
    )


def downgrade() -> None:
    op.execute("DELETE FROM projection_state WHERE name = 'gate'")
    op.execute("DELETE FROM projection_failures WHERE projection = 'gate'")
    op.drop_index('ix_gate_waivers_digest_target', table_name='gate_waivers')
    op.drop_table('gate_waivers')
    op.drop_index('ix_gate_approvals_digest_target', table_name='gate_approvals')
    op.drop_table('gate_approvals')
    op.drop_index('ix_gate_decisions_digest_target', table_name='gate_decisions')
    op.drop_index('ix_gate_decisions_decision_id', table_name='gate_decisions')
    op.drop_table('gate_decisions')
