"""delete_tenant_data binds with SET LOCAL (issue 21).

The function (0022) binds the deleted county, then each of its members in turn (is the person a
member elsewhere?), with set_config. On Citus a set_config stays on the coordinator while the
policies run on the shards: the deletes would have found the caller's binding by chance, and the
membership check none of the person's other counties — every member would have looked like one of
this county alone, and had their account anonymised. SET LOCAL is passed on to the workers (the
connection's `citus.propagate_set_commands = 'local'`); on one PostgreSQL it is the same as
set_config(…, true). The time is taken once into a variable: Citus refuses now() inside the
COALESCE of a statement it sends to the nodes ("non-IMMUTABLE functions are not allowed").

Revision ID: 0045
Revises: 0044
"""

import importlib.util
import re
from pathlib import Path

from alembic import op

from app.migrations.rls import definer_function

revision = "0045"
down_revision = "0044"
branch_labels = None
depends_on = None

SIGNATURE = "delete_tenant_data(p_tenant bigint)"
SET_CONFIG = re.compile(r"PERFORM set_config\('(app\.(?:tenant_id|user_id))', (.+?), true\);")


def _body_0022() -> str:
    spec = importlib.util.spec_from_file_location("_rev0022", Path(__file__).with_name("0022_retention_gaps.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.DELETE_BODY


def set_local_body() -> str:
    body, found = SET_CONFIG.subn(lambda m: f"EXECUTE format('SET LOCAL {m.group(1)} = %L', {m.group(2)});",
                                  _body_0022())
    assert found == 6 and "set_config('app." not in body, found
    # the time as a value: Citus refuses now() in a COALESCE of a statement it sends to the nodes
    body = body.replace("DECLARE\n", "DECLARE\n  at_now timestamptz := now();\n", 1).replace("now()", "at_now")
    return body.replace("at_now timestamptz := at_now;", "at_now timestamptz := now();", 1)


def upgrade() -> None:
    op.execute("DROP FUNCTION delete_tenant_data(bigint)")
    definer_function(SIGNATURE, "jsonb", set_local_body())


def downgrade() -> None:
    op.execute("DROP FUNCTION delete_tenant_data(bigint)")
    definer_function(SIGNATURE, "jsonb", _body_0022())
