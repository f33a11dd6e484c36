"""An invitation's token is unique within its tenant (issue 21): Citus distributes a table only when
each of its unique keys holds the distribution column (tenant_id). The join link names the tenant
(/join/<slug>/<token>), and the lookup names it too (app.accounts.invitations.open_invitation)."""

from alembic import op

revision = "0043"
down_revision = "0042"


def upgrade() -> None:
    op.execute("ALTER TABLE invitations DROP CONSTRAINT invitations_token_hash_key")
    op.execute("ALTER TABLE invitations ADD CONSTRAINT invitations_tenant_token_key UNIQUE (tenant_id, token_hash)")


def downgrade() -> None:
    op.execute("ALTER TABLE invitations DROP CONSTRAINT invitations_tenant_token_key")
    op.execute("ALTER TABLE invitations ADD CONSTRAINT invitations_token_hash_key UNIQUE (token_hash)")
