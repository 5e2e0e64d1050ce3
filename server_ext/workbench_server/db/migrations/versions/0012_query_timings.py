"""%sql query timings for the built-in engine's SlowQueries rule

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "query_timings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("query_type", sa.String(length=20), nullable=False),
        sa.Column("data_source", sa.String(length=20), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("sum_seconds", sa.Float(), nullable=False),
        sa.Column("buckets", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_query_timings")),
    )
    op.create_index(op.f("ix_query_timings_at"), "query_timings", ["at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_query_timings_at"), table_name="query_timings")
    op.drop_table("query_timings")
