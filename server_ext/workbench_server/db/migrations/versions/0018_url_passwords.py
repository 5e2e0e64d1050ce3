"""connections: passwords typed into URLs move into the encrypted secret (data only)

Before 8a656f3 a password typed into a connection's URL (a SQLAlchemy URL's
``user:pw@`` or libpq's ``?password=``, an Odoo or Superset ``https://user:pw@host``) was
stored as typed, in clear in ``connections.config`` (and so in every backup since). Each
such row is validated as a save validates it now (the kind's own rule moves the password
into its encrypted ``password``, a password already given wins) and written back. A kind
with no password field (OCR, embeddings, a lake's endpoint) has nowhere to move it: the
row is left as it is, loads as before, and ``workbench doctor`` names it to be re-saved.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-07
"""

from pathlib import Path

import sqlalchemy as sa
from alembic import context, op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

_connections = sa.table(
    "connections",
    sa.column("id", sa.Integer()),
    sa.column("name", sa.String()),
    sa.column("kind", sa.String()),
    sa.column("config", sa.JSON()),
    sa.column("secret", sa.LargeBinary()),
    sa.column("secret_names", sa.JSON()),
)


def upgrade() -> None:
    from pydantic import ValidationError

    from workbench_server.connections.kinds import KIND_ADAPTER
    from workbench_server.connections.service import config_url_passwords
    from workbench_server.secrets import SecretBox

    bind = op.get_bind()
    rows = [
        row
        for row in bind.execute(sa.select(_connections)).all()
        if config_url_passwords(row.config or {})
    ]
    if not rows:
        return
    key = context.config.attributes.get("secrets_key")
    if key is None or not Path(key).exists():
        raise RuntimeError(
            f"{len(rows)} connection(s) keep a password in a URL; moving it into the "
            "encrypted secret needs the secrets key (run `workbench up`, which passes it)"
        )
    box = SecretBox(Path(key))
    sqlite = bind.dialect.name == "sqlite"
    if sqlite:
        # The old row's bytes are zeroed, not left in the page's free space (the file
        # is what backups copy); upgrade_to_head checkpoints the WAL afterwards.
        bind.exec_driver_sql("PRAGMA secure_delete = ON")
    for row in rows:
        secrets = box.open(row.secret, what=f"connection {row.name!r}")
        try:
            settings = KIND_ADAPTER.validate_python({**row.config, **secrets, "kind": row.kind})
        except ValidationError:
            continue  # did not load before either: left for its owner to correct
        if settings.url_passwords():
            continue  # nowhere secret to keep it: doctor names the connection
        bind.execute(
            sa.update(_connections)
            .where(_connections.c.id == row.id)
            .values(
                config=settings.public(),
                secret=box.seal(settings.secrets()),
                secret_names=sorted(settings.secrets()),
            )
        )
    if sqlite:
        bind.exec_driver_sql("PRAGMA secure_delete = OFF")


def downgrade() -> None:
    pass  # the password stays in the encrypted secret, where an older version reads it too
