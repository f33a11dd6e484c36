"""The cases merged into a case, found by an index: a case page lists them (``cases.views``), and
without it PostgreSQL read every case of the county to find none (95 ms at 200,000 cases; issue 20).
Partial: only merged cases carry the column.

Revision ID: 0038
Revises: 0037
"""

from app.migrations.rls import script

revision = "0038"
down_revision = "0037"
branch_labels = None
depends_on = None


def upgrade() -> None:
    script("CREATE INDEX cases_merged_into ON cases (tenant_id, merged_into_id) WHERE merged_into_id IS NOT NULL;")


def downgrade() -> None:
    script("DROP INDEX cases_merged_into;")
