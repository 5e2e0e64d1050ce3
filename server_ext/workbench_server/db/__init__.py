"""Metadata store: SQLAlchemy 2 models, engine setup and Alembic migrations."""

from .engine import make_engine, normalize_db_url, session_factory
from .migrate import current_revision, head_revision, upgrade_to_head

__all__ = [
    "current_revision",
    "head_revision",
    "make_engine",
    "normalize_db_url",
    "session_factory",
    "upgrade_to_head",
]
