"""catalog: scans, tables, columns and schema history

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def _when(name: str, nullable: bool = True) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "catalog_scans",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("connection_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("requested_by", sa.String(length=200), nullable=False),
        _when("started_at", nullable=False),
        _when("finished_at"),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("stats", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["connection_id"],
            ["connections.id"],
            name=op.f("fk_catalog_scans_connection_id_connections"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_catalog_scans")),
    )
    op.create_index(
        op.f("ix_catalog_scans_connection_id"), "catalog_scans", ["connection_id"], unique=False
    )
    op.create_table(
        "catalog_tables",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("connection_id", sa.Integer(), nullable=False),
        sa.Column("schema_name", sa.String(length=200), nullable=False),
        sa.Column("name", sa.String(length=300), nullable=False),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("layer", sa.String(length=30), nullable=True),
        sa.Column("row_estimate", sa.BigInteger(), nullable=True),
        sa.Column("size_bytes", sa.BigInteger(), nullable=True),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("label", sa.String(length=300), nullable=True),
        sa.Column("odoo_model", sa.String(length=200), nullable=True),
        sa.Column("module", sa.String(length=200), nullable=True),
        sa.Column("auto_tags", sa.JSON(), nullable=False),
        sa.Column("extra", sa.JSON(), nullable=False),
        sa.Column("fingerprint", sa.String(length=32), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("steward", sa.String(length=200), nullable=True),
        sa.Column("certified", sa.Boolean(), nullable=False),
        sa.Column("usage_count", sa.Integer(), nullable=False),
        _when("first_seen", nullable=False),
        _when("last_seen", nullable=False),
        _when("updated_at", nullable=False),
        _when("dropped_at"),
        sa.ForeignKeyConstraint(
            ["connection_id"],
            ["connections.id"],
            name=op.f("fk_catalog_tables_connection_id_connections"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_catalog_tables")),
        sa.UniqueConstraint(
            "connection_id", "schema_name", "name", name=op.f("uq_catalog_tables_connection_id")
        ),
    )
    op.create_index(
        op.f("ix_catalog_tables_connection_id"), "catalog_tables", ["connection_id"], unique=False
    )
    op.create_table(
        "catalog_columns",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("table_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=300), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("data_type", sa.String(length=200), nullable=False),
        sa.Column("nullable", sa.Boolean(), nullable=False),
        sa.Column("default", sa.Text(), nullable=True),
        sa.Column("primary_key", sa.Boolean(), nullable=False),
        sa.Column("references", sa.String(length=700), nullable=True),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("label", sa.String(length=300), nullable=True),
        sa.Column("help", sa.Text(), nullable=True),
        sa.Column("odoo_type", sa.String(length=50), nullable=True),
        sa.Column("relation", sa.String(length=200), nullable=True),
        sa.Column("selection", sa.JSON(), nullable=False),
        sa.Column("module", sa.String(length=200), nullable=True),
        sa.Column("auto_tags", sa.JSON(), nullable=False),
        sa.Column("fingerprint", sa.String(length=32), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("tags", sa.JSON(), nullable=False),
        _when("dropped_at"),
        sa.ForeignKeyConstraint(
            ["table_id"],
            ["catalog_tables.id"],
            name=op.f("fk_catalog_columns_table_id_catalog_tables"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_catalog_columns")),
        sa.UniqueConstraint("table_id", "name", name=op.f("uq_catalog_columns_table_id")),
    )
    op.create_index(
        op.f("ix_catalog_columns_table_id"), "catalog_columns", ["table_id"], unique=False
    )
    op.create_table(
        "catalog_changes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("table_id", sa.Integer(), nullable=False),
        sa.Column("scan_id", sa.Integer(), nullable=True),
        sa.Column("change", sa.String(length=30), nullable=False),
        sa.Column("column", sa.String(length=300), nullable=True),
        sa.Column("old", sa.Text(), nullable=True),
        sa.Column("new", sa.Text(), nullable=True),
        _when("at", nullable=False),
        sa.ForeignKeyConstraint(
            ["scan_id"],
            ["catalog_scans.id"],
            name=op.f("fk_catalog_changes_scan_id_catalog_scans"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["table_id"],
            ["catalog_tables.id"],
            name=op.f("fk_catalog_changes_table_id_catalog_tables"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_catalog_changes")),
    )
    op.create_index(
        op.f("ix_catalog_changes_table_id"), "catalog_changes", ["table_id"], unique=False
    )


def downgrade() -> None:
    for table in ("catalog_changes", "catalog_columns", "catalog_tables", "catalog_scans"):
        op.drop_table(table)
