"""Remember the last TOTP time step used, so a code cannot be replayed.

Revision ID: 0002
Revises: 0001
"""

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE users ADD COLUMN totp_last_step bigint")


def downgrade() -> None:
    op.execute("ALTER TABLE users DROP COLUMN totp_last_step")
