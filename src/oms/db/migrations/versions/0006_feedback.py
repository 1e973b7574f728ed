"""feedback: requests after delivery, responses, support tasks

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27 01:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "feedback_requests",
        sa.Column("id", _ID, nullable=False),
        sa.Column("order_id", _ID, nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["order_id"], ["orders.id"], name=op.f("fk_feedback_requests_order_id_orders"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_feedback_requests")),
        sa.UniqueConstraint("order_id", name=op.f("uq_feedback_requests_order_id")),
    )
    with op.batch_alter_table("feedback_requests", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_feedback_requests_sent_at"), ["sent_at"], unique=False)

    op.create_table(
        "feedback_responses",
        sa.Column("id", _ID, nullable=False),
        sa.Column("order_id", _ID, nullable=False),
        sa.Column("channel_id", _ID, nullable=False),
        sa.Column("rating", sa.Integer(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("item_ratings", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("rating >= 1 AND rating <= 5", name=op.f("ck_feedback_responses_rating_1_to_5")),
        sa.ForeignKeyConstraint(
            ["channel_id"], ["channels.id"], name=op.f("fk_feedback_responses_channel_id_channels")
        ),
        sa.ForeignKeyConstraint(
            ["order_id"], ["orders.id"], name=op.f("fk_feedback_responses_order_id_orders"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_feedback_responses")),
        sa.UniqueConstraint("order_id", name=op.f("uq_feedback_responses_order_id")),
    )
    with op.batch_alter_table("feedback_responses", schema=None) as batch_op:
        batch_op.create_index("ix_feedback_responses_channel_id_id", ["channel_id", "id"], unique=False)
        batch_op.create_index(batch_op.f("ix_feedback_responses_updated_at"), ["updated_at"], unique=False)

    op.create_table(
        "support_tasks",
        sa.Column("id", _ID, nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("order_id", _ID, nullable=True),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_by", sa.String(length=320), nullable=True),
        sa.ForeignKeyConstraint(
            ["order_id"], ["orders.id"], name=op.f("fk_support_tasks_order_id_orders"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_support_tasks")),
    )
    with op.batch_alter_table("support_tasks", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_support_tasks_order_id"), ["order_id"], unique=False)
        batch_op.create_index("ix_support_tasks_status_id", ["status", "id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("support_tasks", schema=None) as batch_op:
        batch_op.drop_index("ix_support_tasks_status_id")
        batch_op.drop_index(batch_op.f("ix_support_tasks_order_id"))

    op.drop_table("support_tasks")
    with op.batch_alter_table("feedback_responses", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_feedback_responses_updated_at"))
        batch_op.drop_index("ix_feedback_responses_channel_id_id")

    op.drop_table("feedback_responses")
    with op.batch_alter_table("feedback_requests", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_feedback_requests_sent_at"))

    op.drop_table("feedback_requests")
