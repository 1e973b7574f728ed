"""capture stock check: the one-statement order write refuses itself when stock moved

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-27 03:40:00

On PostgreSQL an order is written by one statement run in autocommit (oms.orders.capture_pg), so
that it is its own transaction. When a stock row could not take its reservation the statement must
fail as a whole, leaving nothing written; plain SQL cannot raise, so it calls this function, whose
error (SQLSTATE OMS01) the capture turns into "plan again under row locks". SQLite needs nothing:
it never takes that path.
"""

from __future__ import annotations

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(
        """
        CREATE FUNCTION oms_all_reserved(reserved bigint, wanted integer) RETURNS bigint
        LANGUAGE plpgsql AS $$
        BEGIN
            IF reserved <> wanted THEN
                RAISE EXCEPTION 'stock moved: % of % stock rows could take their reservation',
                    reserved, wanted USING ERRCODE = 'OMS01';
            END IF;
            RETURN reserved;
        END
        $$
        """
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP FUNCTION oms_all_reserved(bigint, integer)")
