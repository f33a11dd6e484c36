"""Absence reasons (请假) per activity, kept on the invitation (issue 19's attendance register lists
the absent deputies "with reason").

- activity_invitations.absence_reason: the reason an invited deputy gave for not coming (≤ 100
  characters, e.g. 外出务工, 因病), asked for by the deputy or recorded by staff after a phone call;
  NULL when there is none. absence_recorded_at/absence_recorded_by say when and by whom (the
  deputy's own account or a staff member); all three are set and cleared together.

A column set on the invitation rather than a table of its own: one reason per deputy and activity,
read with the invitation wherever attendance is (the register, the activity's page) without another
join; each change is also an activity_events row, so the history keeps earlier reasons.

Revision ID: 0036
Revises: 0035
"""

from app.migrations.rls import script

revision = "0036"
down_revision = "0035"
branch_labels = None
depends_on = None


def upgrade() -> None:
    script(
        """
        ALTER TABLE activity_invitations
            ADD COLUMN absence_reason varchar(100) CHECK (absence_reason <> ''),
            ADD COLUMN absence_recorded_at timestamptz,
            ADD COLUMN absence_recorded_by bigint REFERENCES users(id),
            ADD CONSTRAINT activity_invitations_absence_whole
                CHECK ((absence_reason IS NULL) = (absence_recorded_at IS NULL));
        """
    )


def downgrade() -> None:
    script(
        """
        ALTER TABLE activity_invitations
            DROP CONSTRAINT activity_invitations_absence_whole,
            DROP COLUMN absence_recorded_by,
            DROP COLUMN absence_recorded_at,
            DROP COLUMN absence_reason;
        """
    )
