"""Public ratings and receipt lookups (issue 14, items 3 and 10).

Revision ID: 0011
Revises: 0010
"""

from migrations.rls import script  # noqa: F401

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
