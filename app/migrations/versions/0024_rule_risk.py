"""When a rule warns (issue 17): each rule may set its own at-risk days before its period ends (NULL:
the county's `tenant_config.at_risk_days`) and whether it also warns as soon as a subject falls behind a
steady pace through the period (on by default, so existing rules warn in time without a change).

Revision ID: 0024
Revises: 0023
"""

from alembic import op

revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        ALTER TABLE activity_rules
            ADD COLUMN at_risk_days integer CHECK (at_risk_days BETWEEN 0 AND 180),
            ADD COLUMN at_risk_pace boolean NOT NULL DEFAULT true;
        """
    )


def downgrade() -> None:
    op.execute("ALTER TABLE activity_rules DROP COLUMN at_risk_days, DROP COLUMN at_risk_pace;")
