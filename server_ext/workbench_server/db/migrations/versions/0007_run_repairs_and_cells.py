"""who repaired a run, repairs on the latest version, reused attempts, notebook cells

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.add_column(sa.Column("repaired_by", sa.String(length=64), nullable=True))
        batch.add_column(
            sa.Column("repair_latest", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
    with op.batch_alter_table("step_runs") as batch:
        batch.add_column(sa.Column("notebook_cell", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("reused_from_run", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("reused_from_attempt", sa.Integer(), nullable=True))
    # Runs repaired before this revision (some of them twice): the latest repair counts.
    op.execute(
        "UPDATE runs SET repaired_by = (SELECT r.id FROM runs r WHERE r.repair_of = runs.id "
        "ORDER BY r.created_at DESC LIMIT 1) "
        "WHERE EXISTS (SELECT 1 FROM runs r WHERE r.repair_of = runs.id)"
    )


def downgrade() -> None:
    with op.batch_alter_table("step_runs") as batch:
        batch.drop_column("reused_from_attempt")
        batch.drop_column("reused_from_run")
        batch.drop_column("notebook_cell")
    with op.batch_alter_table("runs") as batch:
        batch.drop_column("repair_latest")
        batch.drop_column("repaired_by")
