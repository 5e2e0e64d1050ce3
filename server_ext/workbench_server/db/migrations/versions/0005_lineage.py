"""lineage datasets, edges and parse warnings

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "lineage_datasets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("namespace", sa.String(length=200), nullable=False),
        sa.Column("name", sa.String(length=700), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lineage_datasets")),
        sa.UniqueConstraint("namespace", "name", name=op.f("uq_lineage_datasets_namespace")),
    )
    op.create_table(
        "lineage_edges",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source_id", sa.Integer(), nullable=False),
        sa.Column("target_id", sa.Integer(), nullable=False),
        sa.Column("source_column", sa.String(length=300), nullable=False),
        sa.Column("target_column", sa.String(length=300), nullable=False),
        sa.Column("transformation", sa.String(length=30), nullable=False),
        sa.Column("job", sa.String(length=300), nullable=False),
        sa.Column("run_id", sa.String(length=64), nullable=True),
        sa.Column("first_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["source_id"],
            ["lineage_datasets.id"],
            name=op.f("fk_lineage_edges_source_id_lineage_datasets"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["target_id"],
            ["lineage_datasets.id"],
            name=op.f("fk_lineage_edges_target_id_lineage_datasets"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lineage_edges")),
        sa.UniqueConstraint(
            "source_id",
            "target_id",
            "source_column",
            "target_column",
            "job",
            name=op.f("uq_lineage_edges_source_id"),
        ),
    )
    op.create_index(
        op.f("ix_lineage_edges_source_id"), "lineage_edges", ["source_id"], unique=False
    )
    op.create_index(
        op.f("ix_lineage_edges_target_id"), "lineage_edges", ["target_id"], unique=False
    )

    op.create_table(
        "lineage_warnings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("job", sa.String(length=300), nullable=False),
        sa.Column("run_id", sa.String(length=64), nullable=True),
        sa.Column("principal", sa.String(length=200), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lineage_warnings")),
    )
    op.create_index(op.f("ix_lineage_warnings_job"), "lineage_warnings", ["job"], unique=False)


def downgrade() -> None:
    op.drop_table("lineage_warnings")
    op.drop_table("lineage_edges")
    op.drop_table("lineage_datasets")
