"""Sign-in limits per client address and encrypted operator secrets (issue 14, items 9 and 10).

- failed_logins also counts failures of names no account has (``login_key``, so that unknown and
  known names lock alike), per client address or IPv6 /64 (``client_net``), and remembers an
  admin's unlock (``cleared_at``: the failures stop counting against the account, never against the
  address they came from).
- users.totp_secret grows to hold a sealed value (app.core.sealing). The key lives in the app's
  settings, not in SQL: `lianluo migrate` seals the clear values after this migration, and the app
  seals any it still meets at their next use (app.platform.totp).

Revision ID: 0012
Revises: 0011
"""

from app.migrations.rls import script

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # The runtime role's table grant on failed_logins (0001) covers the new columns.
    script(
        """
        ALTER TABLE failed_logins ALTER COLUMN user_id DROP NOT NULL;
        ALTER TABLE failed_logins ADD COLUMN login_key varchar(60);
        ALTER TABLE failed_logins ADD COLUMN client_net varchar(64);
        ALTER TABLE failed_logins ADD COLUMN cleared_at timestamptz;
        ALTER TABLE failed_logins ADD CONSTRAINT failed_logins_whose
            CHECK ((user_id IS NULL) <> (login_key IS NULL));
        UPDATE failed_logins SET client_net = client_addr;
        CREATE INDEX failed_logins_login_at ON failed_logins (login_key, at) WHERE login_key IS NOT NULL;
        CREATE INDEX failed_logins_net_at ON failed_logins (client_net, at) WHERE client_net IS NOT NULL;
        ALTER TABLE users ALTER COLUMN totp_secret TYPE varchar(200);
        """
    )


def downgrade() -> None:
    # Sealed secrets cannot be opened in SQL: those operators enrol their authenticator again.
    script(
        """
        UPDATE users SET totp_secret = NULL, totp_enabled_at = NULL, totp_last_step = NULL
            WHERE totp_secret LIKE 'v1:%';
        ALTER TABLE users ALTER COLUMN totp_secret TYPE varchar(64);
        DROP INDEX failed_logins_net_at;
        DROP INDEX failed_logins_login_at;
        DELETE FROM failed_logins WHERE user_id IS NULL;
        ALTER TABLE failed_logins DROP CONSTRAINT failed_logins_whose;
        ALTER TABLE failed_logins DROP COLUMN cleared_at;
        ALTER TABLE failed_logins DROP COLUMN client_net;
        ALTER TABLE failed_logins DROP COLUMN login_key;
        ALTER TABLE failed_logins ALTER COLUMN user_id SET NOT NULL;
        """
    )
