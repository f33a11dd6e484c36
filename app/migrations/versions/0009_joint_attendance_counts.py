"""A county's deputies' attendance at joint stations counts in the county's own compliance board: the
rolled-up rows carry the joint activity kind's code (the county's rules name kinds by code), how many
deputies were present (the rules' "at least N deputies"), and the late / left-early marks.

Revision ID: 0009
Revises: 0008
"""

from app.migrations.rls import script

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    script(
        """
        ALTER TABLE joint_attendance
            ADD COLUMN kind_code varchar(40) NOT NULL DEFAULT '',
            ADD COLUMN present_count integer NOT NULL DEFAULT 0,
            ADD COLUMN late boolean NOT NULL DEFAULT false,
            ADD COLUMN left_early boolean NOT NULL DEFAULT false;
        """
    )


def downgrade() -> None:
    script("ALTER TABLE joint_attendance DROP COLUMN kind_code, DROP COLUMN present_count, DROP COLUMN late, "
           "DROP COLUMN left_early")
