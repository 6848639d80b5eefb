"""Ledger tables, API keys, and the triggers that make the ledger append-only.

Revision ID: 0001
Revises:
Create Date: 2026-11-26
"""

from __future__ import annotations

import hashlib

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

big_key = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

# Tables whose rows may never change or disappear.
APPEND_ONLY = ("ledger_entries", "ledger_nodes", "ledger_checkpoints", "ledger_subjects")


def _sqlite_triggers() -> list[str]:
    statements = []
    for table in APPEND_ONLY:
        for op_name in ("UPDATE", "DELETE"):
            statements.append(
                f"CREATE TRIGGER {table}_no_{op_name.lower()} BEFORE {op_name} ON {table} "
                f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END"
            )
    statements.append(
        "CREATE TRIGGER ledger_payloads_no_update BEFORE UPDATE ON ledger_payloads "
        "BEGIN SELECT RAISE(ABORT, 'ledger_payloads rows may be erased, never changed'); END"
    )
    statements.append(
        "CREATE TRIGGER ledger_head_no_delete BEFORE DELETE ON ledger_head "
        "BEGIN SELECT RAISE(ABORT, 'ledger_head cannot be deleted'); END"
    )
    statements.append(
        "CREATE TRIGGER ledger_head_only_grows BEFORE UPDATE ON ledger_head "
        "WHEN NEW.size < OLD.size OR NEW.id != OLD.id "
        "BEGIN SELECT RAISE(ABORT, 'ledger_head may only grow'); END"
    )
    return statements


def _postgresql_triggers() -> list[str]:
    statements = [
        """
        CREATE FUNCTION governance_reject_change() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION '% is append-only', TG_TABLE_NAME USING ERRCODE = 'restrict_violation';
        END $$
        """,
        """
        CREATE FUNCTION governance_head_only_grows() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF NEW.size < OLD.size OR NEW.id <> OLD.id THEN
                RAISE EXCEPTION 'ledger_head may only grow' USING ERRCODE = 'restrict_violation';
            END IF;
            RETURN NEW;
        END $$
        """,
    ]
    for table in APPEND_ONLY:
        statements.append(
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION governance_reject_change()"
        )
        statements.append(
            f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION governance_reject_change()"
        )
    statements += [
        "CREATE TRIGGER ledger_payloads_no_update BEFORE UPDATE ON ledger_payloads "
        "FOR EACH ROW EXECUTE FUNCTION governance_reject_change()",
        "CREATE TRIGGER ledger_head_no_delete BEFORE DELETE ON ledger_head "
        "FOR EACH ROW EXECUTE FUNCTION governance_reject_change()",
        "CREATE TRIGGER ledger_head_only_grows BEFORE UPDATE ON ledger_head "
        "FOR EACH ROW EXECUTE FUNCTION governance_head_only_grows()",
    ]
    return statements


def upgrade() -> None:
    op.create_table(
        "ledger_entries",
        sa.Column("idx", big_key, primary_key=True, autoincrement=False),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("envelope", sa.LargeBinary(), nullable=False),
        sa.Column("idem", sa.LargeBinary(32), nullable=False, unique=True),
    )
    op.create_table(
        "ledger_payloads",
        sa.Column("idx", big_key, primary_key=True, autoincrement=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
    )
    op.create_table(
        "ledger_nodes",
        sa.Column("id", big_key, primary_key=True, autoincrement=False),
        sa.Column("hash", sa.LargeBinary(32), nullable=False),
    )
    op.create_table(
        "ledger_subjects",
        sa.Column("subject", sa.String(1100), primary_key=True),
        sa.Column("idx", sa.BigInteger(), primary_key=True, autoincrement=False),
    )
    head = op.create_table(
        "ledger_head",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("root", sa.LargeBinary(32), nullable=False),
        sa.Column("frontier", sa.LargeBinary(), nullable=False),
        sa.Column("last_leaf", sa.LargeBinary(32), nullable=False),
    )
    op.create_table(
        "ledger_checkpoints",
        sa.Column("size", big_key, primary_key=True, autoincrement=False),
        sa.Column("root", sa.LargeBinary(32), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("created_at", sa.String(40), nullable=False),
    )
    op.create_table(
        "api_keys",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("role", sa.String(32), nullable=False),
        sa.Column("key_hash", sa.LargeBinary(32), nullable=False, unique=True),
        sa.Column("created_at", sa.String(40), nullable=False),
        sa.Column("revoked_at", sa.String(40), nullable=True),
    )
    # The empty tree: size 0, root SHA-256(""), no frontier; entry 0's prev is 32 zero bytes.
    op.bulk_insert(
        head,
        [
            {
                "id": 1,
                "size": 0,
                "root": hashlib.sha256(b"").digest(),
                "frontier": b"",
                "last_leaf": bytes(32),
            }
        ],
    )
    dialect = op.get_bind().dialect.name
    statements = _sqlite_triggers() if dialect == "sqlite" else _postgresql_triggers()
    for statement in statements:
        op.execute(statement)


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    for table in ("api_keys", "ledger_checkpoints", "ledger_head", "ledger_nodes",
                  "ledger_subjects", "ledger_payloads", "ledger_entries"):
        op.drop_table(table)
    if dialect == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS governance_reject_change()")
        op.execute("DROP FUNCTION IF EXISTS governance_head_only_grows()")
