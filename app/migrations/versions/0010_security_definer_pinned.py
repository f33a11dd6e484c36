"""SECURITY DEFINER functions run with a pinned search_path and the runtime role creates no temporary objects (issue 14, item 1).

Revision ID: 0010
Revises: 0009
"""

from alembic import op

from app.migrations.rls import grant_temporary, pin_definer, revoke_temporary

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

# The cross-tenant functions of 0001, 0003, 0006 and 0007 (all called by the app or the worker).
# They were created with search_path = public, where pg_temp is implicitly searched first: a
# caller's temporary view named `tenants` ran the caller's code as the owner.
DEFINERS = (
    "platform_tenant_usage()",
    "import_jobs_waiting(interval)",
    "outbox_due_tenants(timestamptz, interval)",
    "platform_sms_since(timestamptz)",
    "platform_joint_agreements()",
)


def upgrade() -> None:
    for signature in DEFINERS:
        pin_definer(signature)
    revoke_temporary()


def downgrade() -> None:
    grant_temporary()
    for signature in DEFINERS:
        op.execute(f"ALTER FUNCTION {signature} SET search_path = public")
