"""run SLA deadline and miss time; notifications sent about runs

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.add_column(sa.Column("sla_deadline", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("sla_missed_at", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "notifications",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.String(length=64), nullable=False),
        sa.Column("event", sa.String(length=20), nullable=False),
        sa.Column("target", sa.String(length=500), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["runs.id"],
            name=op.f("fk_notifications_run_id_runs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notifications")),
        sa.UniqueConstraint("run_id", "event", "target", name=op.f("uq_notifications_run_id")),
    )
    op.create_index(op.f("ix_notifications_run_id"), "notifications", ["run_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_notifications_run_id"), table_name="notifications")
    op.drop_table("notifications")
    with op.batch_alter_table("runs") as batch:
        batch.drop_column("sla_missed_at")
        batch.drop_column("sla_deadline")
