"""built-in alert engine: escalation levels of alerts and of their notices

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("alerts") as batch:
        batch.add_column(
            sa.Column("escalation_level", sa.Integer(), server_default="0", nullable=False)
        )
    with op.batch_alter_table("alert_events") as batch:
        batch.add_column(sa.Column("level", sa.Integer(), server_default="0", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("alert_events") as batch:
        batch.drop_column("level")
    with op.batch_alter_table("alerts") as batch:
        batch.drop_column("escalation_level")
