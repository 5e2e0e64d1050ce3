"""The audit log of agents' (MCP) tool calls

Revision ID: 0015
Revises: 0013
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "agent_calls",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("principal", sa.String(length=200), nullable=False),
        sa.Column("transport", sa.String(length=20), nullable=False),
        sa.Column("tool", sa.String(length=100), nullable=False),
        sa.Column("arguments", sa.JSON(), nullable=False),
        sa.Column("outcome", sa.String(length=20), nullable=False),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column("elapsed_ms", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_agent_calls")),
    )
    op.create_index(op.f("ix_agent_calls_at"), "agent_calls", ["at"])
    op.create_index(op.f("ix_agent_calls_principal"), "agent_calls", ["principal"])


def downgrade() -> None:
    op.drop_index(op.f("ix_agent_calls_principal"), table_name="agent_calls")
    op.drop_index(op.f("ix_agent_calls_at"), table_name="agent_calls")
    op.drop_table("agent_calls")
