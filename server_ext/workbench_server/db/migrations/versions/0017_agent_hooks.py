"""agents' event hooks: registrations owned by users, and their deliveries in the outbox

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "agent_hooks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("owner", sa.String(length=200), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("events", sa.JSON(), nullable=False),
        sa.Column("secret", sa.LargeBinary(), nullable=False),
        sa.Column("owner_groups", sa.JSON(), nullable=False),
        sa.Column("owner_admin", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_agent_hooks")),
        sa.UniqueConstraint("owner", "name", name=op.f("uq_agent_hooks_owner")),
    )
    op.create_index(op.f("ix_agent_hooks_owner"), "agent_hooks", ["owner"])
    # A plain nullable column: added in place on SQLite (no copy of the outbox table).
    with op.batch_alter_table("webhook_deliveries") as batch:
        batch.add_column(sa.Column("agent_id", sa.Integer(), nullable=True))
    # An agent's event is written once (its rows have no target for the outbox's unique
    # constraint to cover); agent_id first, so it also finds an agent's deliveries.
    op.create_index(
        "ix_webhook_deliveries_agent_event",
        "webhook_deliveries",
        ["agent_id", "event_key"],
        unique=True,
    )


def downgrade() -> None:
    op.drop_index("ix_webhook_deliveries_agent_event", table_name="webhook_deliveries")
    op.execute("DELETE FROM webhook_deliveries WHERE agent_id IS NOT NULL")
    with op.batch_alter_table("webhook_deliveries") as batch:
        batch.drop_column("agent_id")
    op.drop_index(op.f("ix_agent_hooks_owner"), table_name="agent_hooks")
    op.drop_table("agent_hooks")
