"""Case text search served by an index under forced row-level security (issue 20: the cases list's
``?q=`` was a sequential scan, ~300 ms at 200,000 cases, a rare term up to 800 ms).

Why a table of its own. Under row-level security the planner evaluates the policy before any
condition that is not leakproof, and none of the operators an index for substrings needs (LIKE,
pg_trgm's, array containment) is leakproof (only a superuser may mark a function so). Forced RLS
applies to the owner too, so a SECURITY DEFINER function over an index on ``cases`` is refused the
index just like the runtime role (measured: a GIN index on ``cases`` is ignored by a non-superuser
owner under FORCE; the tests migrate as a superuser, who bypasses RLS and would hide this).

- ``case_search``: one row per case, ``(tenant_id, case_id, body)`` with ``body`` the case's content,
  kept by the triggers below. Row-level security is enabled with the usual tenant policy (the runtime
  role may read its own tenant's rows, as it may read ``cases``) but not forced: the owner, that is
  the SECURITY DEFINER function ``case_search``, reads it without the policy, so the index serves it.
  That function takes the tenant explicitly, refuses any other than the bound one, and returns ids.
  The runtime role may not write it; tests/isolation/catalog.py names it as the one unforced table.
- ``case_search_keys(tenant, text)``: the index keys of a text, one bigint per distinct pair of
  adjacent characters of ``lower(text)`` (code points: locale-independent, unlike pg_trgm, which finds
  no trigrams in Chinese under a C ctype and none in a two-character term anyway), tagged with the
  tenant (mod 2^21) so a tenant's posting lists are its own. A term's pairs are all among the pairs
  of a text containing it, so ``keys(text) @> keys(term)`` narrows to candidates and
  ``strpos(lower(body), lower(term))`` decides (the old ``lower(content) LIKE '%term%'``, whatever
  ``%``/``_`` the term holds). Terms of one character have no pair: the caller scans as before.
- ``case_search(tenant, term, max)``: the ids of the tenant's cases whose content contains ``term``
  (case-insensitively), at most ``max + 1`` of them (more than ``max`` tells the caller the term is
  common and a scan newest-first finds a page sooner); NULL for a term under two characters.

Revision ID: 0041
Revises: 0040
"""

from alembic import op

from app.migrations.rls import TENANT_EXPR, app_role, definer_function, script

revision = "0041"
down_revision = "0040"
branch_labels = None
depends_on = None

# BEGIN ATOMIC: the body is bound at creation, so no search_path reaches it when the index is built,
# rebuilt or checked. lower() as the old ILIKE used it (the database's own ctype), on both sides.
KEYS = """
CREATE FUNCTION case_search_keys(p_tenant bigint, p_text text) RETURNS bigint[]
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
BEGIN ATOMIC
  SELECT coalesce(array_agg(DISTINCT ((p_tenant % 2097152) << 42) | (ascii(a)::bigint << 21) | ascii(b)::bigint),
                  '{}'::bigint[])
    FROM (SELECT c AS a, lead(c) OVER (ORDER BY n) AS b
            FROM unnest(string_to_array(lower(p_text), NULL)) WITH ORDINALITY AS u(c, n)) pairs
   WHERE b IS NOT NULL;
END;
"""

TABLE = """
CREATE TABLE case_search (
    tenant_id bigint NOT NULL,
    case_id bigint NOT NULL,
    body text NOT NULL,
    PRIMARY KEY (tenant_id, case_id),
    FOREIGN KEY (tenant_id, case_id) REFERENCES cases (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX case_search_keys ON case_search USING gin (case_search_keys(tenant_id, body));
"""

SYNC_BODY = """
BEGIN
  INSERT INTO case_search (tenant_id, case_id, body) VALUES (NEW.tenant_id, NEW.id, NEW.content)
  ON CONFLICT (tenant_id, case_id) DO UPDATE SET body = EXCLUDED.body;
  RETURN NULL;
END
"""

TRIGGERS = """
CREATE TRIGGER case_search_insert AFTER INSERT ON cases FOR EACH ROW EXECUTE FUNCTION case_search_sync();
CREATE TRIGGER case_search_update AFTER UPDATE OF content ON cases FOR EACH ROW
  WHEN (OLD.content IS DISTINCT FROM NEW.content) EXECUTE FUNCTION case_search_sync();
"""

SEARCH_SIGNATURE = "case_search(p_tenant bigint, p_term text, p_max integer)"
# Dynamic SQL: planned for each term (a cached generic plan cannot tell a rare term from a common one).
SEARCH_BODY = """
DECLARE
  found bigint[];
BEGIN
  IF p_tenant IS DISTINCT FROM NULLIF(current_setting('app.tenant_id', true), '')::bigint THEN
    RAISE EXCEPTION 'case_search: tenant % is not the tenant this transaction is bound to', p_tenant
      USING ERRCODE = 'insufficient_privilege';
  END IF;
  IF p_term IS NULL OR char_length(p_term) < 2 THEN
    RETURN NULL;
  END IF;
  EXECUTE 'SELECT coalesce(array_agg(case_id), ''{}'') FROM (
             SELECT s.case_id FROM case_search s
              WHERE s.tenant_id = $1
                AND case_search_keys(s.tenant_id, s.body) @> case_search_keys($1, $2)
                AND strpos(lower(s.body), lower($2)) > 0
              LIMIT $3 + 1) m'
    INTO found USING p_tenant, p_term, greatest(p_max, 0);
  RETURN found;
END
"""

# Cases are under forced RLS for the owner too (unless it is a superuser): each tenant under its own
# binding, as 0039's functions read.
BACKFILL = """
DO $$
DECLARE
  t record;
BEGIN
  FOR t IN SELECT id FROM tenants ORDER BY id LOOP
    PERFORM set_config('app.tenant_id', t.id::text, true);
    INSERT INTO case_search (tenant_id, case_id, body)
      SELECT tenant_id, id, content FROM cases WHERE tenant_id = t.id
      ON CONFLICT DO NOTHING;
  END LOOP;
  PERFORM set_config('app.tenant_id', '', true);
END $$;
"""


def upgrade() -> None:
    script(KEYS)
    script(TABLE)
    op.execute("ALTER TABLE case_search ENABLE ROW LEVEL SECURITY")
    op.execute(f"CREATE POLICY tenant_isolation ON case_search USING ({TENANT_EXPR}) WITH CHECK ({TENANT_EXPR})")
    op.execute(f"GRANT SELECT ON case_search TO {app_role()}")
    definer_function("case_search_sync()", "trigger", SYNC_BODY)
    script(TRIGGERS)
    definer_function(SEARCH_SIGNATURE, "bigint[]", SEARCH_BODY)
    script(BACKFILL)


def downgrade() -> None:
    script("DROP TRIGGER case_search_update ON cases; DROP TRIGGER case_search_insert ON cases; "
           "DROP FUNCTION case_search(bigint, text, integer); DROP FUNCTION case_search_sync(); "
           "DROP TABLE case_search; DROP FUNCTION case_search_keys(bigint, text)")
