"""Odoo's ``ir.attachment`` for the stand-in, added to a test's own Odoo database.

The demo dataset has no attachments; the OCR tests attach receipts to the expenses they
create. The table keeps Odoo 17's field names (``name``, ``type``, ``datas``,
``res_model``, ``res_id``, ``mimetype``, ``checksum`` = SHA-1 of the content,
``file_size``). Real Odoo computes ``datas`` from its file store; here it is a column.
"""

from __future__ import annotations

import json

import psycopg

__all__ = ["add_attachment_model"]

_FIELDS = (
    ("name", "char", "Name", True),
    ("type", "selection", "Type", True),
    ("datas", "binary", "File Content (base64)", False),
    ("res_model", "char", "Resource Model", False),
    ("res_id", "many2one_reference", "Resource ID", False),
    ("mimetype", "char", "Mime Type", False),
    ("checksum", "char", "Checksum/SHA1", False),
    ("file_size", "integer", "File Size", False),
    ("description", "text", "Description", False),
)


def add_attachment_model(conninfo: str) -> None:
    """Create ``ir_attachment`` and describe it in ``ir_model``/``ir_model_fields``."""
    with psycopg.connect(conninfo) as conn:
        conn.execute(
            "CREATE TABLE ir_attachment (id integer PRIMARY KEY, name varchar NOT NULL,"
            " type varchar NOT NULL DEFAULT 'binary', datas text, res_model varchar,"
            " res_id integer, mimetype varchar, checksum varchar(40), file_size integer,"
            " description text, create_date timestamp DEFAULT now(),"
            " write_date timestamp DEFAULT now())"
        )
        row = conn.execute(
            'INSERT INTO ir_model (id, name, model, "order", state, transient)'
            " SELECT coalesce(max(id), 0) + 1, %s, 'ir.attachment', 'id desc', 'base', false"
            " FROM ir_model RETURNING id",
            [json.dumps({"en_US": "Attachment"})],
        ).fetchone()
        model_id = row[0] if row else None
        for name, ttype, label, required in _FIELDS:
            conn.execute(
                "INSERT INTO ir_model_fields (id, name, complete_name, model, model_id,"
                " field_description, ttype, required, readonly, store, translate, state)"
                " SELECT coalesce(max(id), 0) + 1, %s, %s, 'ir.attachment', %s, %s, %s, %s,"
                " false, true, false, 'base' FROM ir_model_fields",
                [
                    name,
                    f"ir.attachment.{name}",
                    model_id,
                    json.dumps({"en_US": label}),
                    ttype,
                    required,
                ],
            )
