"""Views and bandwidth of images (counted in memory, added in batches).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-15
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("images") as batch:
        batch.add_column(
            sa.Column("views", sa.BigInteger(), nullable=False, server_default=sa.text("0"))
        )
        batch.add_column(
            sa.Column("bandwidth", sa.BigInteger(), nullable=False, server_default=sa.text("0"))
        )


def downgrade() -> None:
    with op.batch_alter_table("images") as batch:
        batch.drop_column("bandwidth")
        batch.drop_column("views")
