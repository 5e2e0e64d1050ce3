"""catalog: Odoo's company-dependent fields (jsonb per company, not foreign keys)

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-08
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("catalog_columns") as batch:
        batch.add_column(
            sa.Column("company_dependent", sa.Boolean(), server_default=sa.false(), nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("catalog_columns") as batch:
        batch.drop_column("company_dependent")
