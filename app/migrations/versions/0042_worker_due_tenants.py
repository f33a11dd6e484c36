"""Worker sweeps that visit only tenants with due work (issue 20). Placeholder reserved.

Revision ID: 0042
Revises: 0041
"""

revision = "0042"
down_revision = "0041"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
