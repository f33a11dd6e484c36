"""The case loop (issue 17): the person's rating period, and who may finish an archived joint
station's cases.

- tenant_config.case_rating_days: how many days after the answer was fed back the person may rate it
  (default 30); past it the case closes without a rating (app.cases.rating).
- memberships.archived_role: the role a member held in a joint station when it became a read-only
  archive (app.joint.agreements.withdraw makes everyone there a viewer). Its former staff may still
  finish the cases it holds (app.joint.archive); a viewer that never was staff may not. Archives made
  before this migration keep it empty: their former roles are not known.

Revision ID: 0023
Revises: 0022
"""

from alembic import op

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE tenant_config ADD COLUMN case_rating_days integer NOT NULL DEFAULT 30 "
               "CHECK (case_rating_days BETWEEN 1 AND 365)")
    # the roles memberships.role may hold (0001): the archiving copies one over and must never fail
    op.execute("ALTER TABLE memberships ADD COLUMN archived_role varchar(20) CHECK (archived_role IN "
               "('county_admin', 'township_staff', 'station_staff', 'deputy', 'handling_unit', 'viewer'))")


def downgrade() -> None:
    op.execute("ALTER TABLE memberships DROP COLUMN archived_role")
    op.execute("ALTER TABLE tenant_config DROP COLUMN case_rating_days")
