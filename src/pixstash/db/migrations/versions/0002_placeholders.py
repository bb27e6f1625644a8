"""Placeholders: a BlurHash and a dominant colour per blob, shown while an image loads.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Nullable without a default: an ALTER TABLE ADD COLUMN that rewrites nothing, on
    # SQLite and PostgreSQL alike. Existing blobs simply have no placeholder.
    with op.batch_alter_table("blobs") as batch:
        batch.add_column(sa.Column("placeholder", sa.String(64), nullable=True))
        batch.add_column(sa.Column("colour", sa.String(7), nullable=True))


def downgrade() -> None:
    # Batch mode: SQLite gets its copy-and-rename, PostgreSQL a plain DROP COLUMN.
    with op.batch_alter_table("blobs") as batch:
        batch.drop_column("colour")
        batch.drop_column("placeholder")
