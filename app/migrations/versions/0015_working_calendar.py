"""China's working calendar: statutory holidays and make-up working days the operator can edit, and what a station does when a reception day is a holiday (issue 15).

- working_calendar_days (platform table): days the operator enters for years the `chinese-calendar`
  library does not cover yet (the State Council publishes each year's arrangement in late autumn).
  A row overrides the library for its date: `holiday` (a day off, with the holiday's name) or
  `workday` (a make-up working day, 调休上班).
- stations.holiday_reception: a reception day that falls on a holiday is `moved` to the next working
  day or `cancelled`.

Revision ID: 0015
Revises: 0014
"""

from app.migrations.rls import grant, script

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    script(
        """
        CREATE TABLE working_calendar_days (
            day date PRIMARY KEY,
            kind varchar(10) NOT NULL CHECK (kind IN ('holiday', 'workday')),
            name varchar(20) NOT NULL CHECK (length(btrim(name)) > 0),
            created_at timestamptz NOT NULL DEFAULT now(),
            created_by bigint REFERENCES users (id)
        );
        ALTER TABLE stations ADD COLUMN holiday_reception varchar(10) NOT NULL DEFAULT 'moved'
            CHECK (holiday_reception IN ('moved', 'cancelled'));
        """
    )
    grant("working_calendar_days", "SELECT, INSERT, DELETE")


def downgrade() -> None:
    script(
        """
        ALTER TABLE stations DROP COLUMN holiday_reception;
        DROP TABLE working_calendar_days;
        """
    )
