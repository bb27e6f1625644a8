"""Albums; visibility and expiry of uploads: the public "recent" listing, the expiry
sweeper, and lookups by delete token (Imgur's deletehash).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-15
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from pixstash.db.models import UTCDateTime

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "albums",
        sa.Column("id", sa.String(16), primary_key=True),
        sa.Column("owner_id", sa.Integer(), nullable=True),
        # NULL for an owned album created without a token (owners need none)
        sa.Column("delete_token_hash", sa.String(64), nullable=True),
        sa.Column("title", sa.String(255), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("visibility", sa.String(10), nullable=False),
        sa.Column("cover_image_id", sa.String(16), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_albums_owner_created", "albums", ["owner_id", "created_at", "id"])
    op.create_index("ix_albums_delete_token_hash", "albums", ["delete_token_hash"])
    op.create_table(
        "album_images",
        sa.Column(
            "album_id",
            sa.String(16),
            sa.ForeignKey("albums.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column(
            "image_id",
            sa.String(16),
            sa.ForeignKey("images.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("position", sa.Integer(), nullable=False),
    )
    # an album's images in order; and the albums of an image (deleting it)
    op.create_index("ix_album_images_order", "album_images", ["album_id", "position"])
    op.create_index("ix_album_images_image", "album_images", ["image_id"])
    op.create_index("ix_images_delete_token_hash", "images", ["delete_token_hash"])
    # the public "recent" page: public images newest first, keyset-paged
    op.create_index("ix_images_visibility_created", "images", ["visibility", "created_at", "id"])
    # the expiry sweeper
    op.create_index("ix_images_expires_at", "images", ["expires_at"])
    # direct uploads carry the visibility and lifetime chosen at their start
    with op.batch_alter_table("upload_sessions") as batch:
        batch.add_column(sa.Column("visibility", sa.String(10), nullable=True))
        batch.add_column(sa.Column("expires_in", sa.String(8), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("upload_sessions") as batch:
        batch.drop_column("expires_in")
        batch.drop_column("visibility")
    op.drop_index("ix_images_expires_at", table_name="images")
    op.drop_index("ix_images_visibility_created", table_name="images")
    op.drop_index("ix_images_delete_token_hash", table_name="images")
    op.drop_index("ix_album_images_image", table_name="album_images")
    op.drop_index("ix_album_images_order", table_name="album_images")
    op.drop_table("album_images")
    op.drop_index("ix_albums_delete_token_hash", table_name="albums")
    op.drop_index("ix_albums_owner_created", table_name="albums")
    op.drop_table("albums")
