"""lake table versions each run read and wrote; ingestion watermarks

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "run_tables",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.String(length=64), nullable=False),
        sa.Column("step_id", sa.String(length=100), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("lake", sa.String(length=100), nullable=False),
        sa.Column("table_name", sa.String(length=200), nullable=False),
        sa.Column("access", sa.String(length=10), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("operation", sa.String(length=20), nullable=True),
        sa.Column("rows_added", sa.BigInteger(), nullable=True),
        sa.Column("rows_updated", sa.BigInteger(), nullable=True),
        sa.Column("rows_removed", sa.BigInteger(), nullable=True),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"], ["runs.id"], name=op.f("fk_run_tables_run_id_runs"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_run_tables")),
        sa.UniqueConstraint(
            "run_id",
            "step_id",
            "attempt",
            "lake",
            "table_name",
            "access",
            name=op.f("uq_run_tables_run_id"),
        ),
    )
    op.create_index(op.f("ix_run_tables_run_id"), "run_tables", ["run_id"])
    op.create_table(
        "ingest_watermarks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("lake", sa.String(length=100), nullable=False),
        sa.Column("target", sa.String(length=200), nullable=False),
        sa.Column("source", sa.String(length=100), nullable=False),
        sa.Column("source_table", sa.String(length=300), nullable=False),
        sa.Column("cursor_value", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cursor_id", sa.BigInteger(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=True),
        sa.Column("deletes_checked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("run_id", sa.String(length=64), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ingest_watermarks")),
        sa.UniqueConstraint(
            "kind",
            "lake",
            "target",
            "source",
            "source_table",
            name=op.f("uq_ingest_watermarks_kind"),
        ),
    )


def downgrade() -> None:
    op.drop_table("ingest_watermarks")
    op.drop_index(op.f("ix_run_tables_run_id"), table_name="run_tables")
    op.drop_table("run_tables")
