"""China's working calendar: statutory holidays and make-up working days the operator can edit, and what a station does when a reception day is a holiday (issue 15).

Revision ID: 0015
Revises: 0014
"""

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
