"""The statements of the nightly retention pass (app.data.retention runs them, batch after batch).

Every statement changes at most ``:batch`` rows of the bound tenant (``:tenant``, named explicitly
as well as by row-level security) and is idempotent: a row already anonymised is not picked again,
so a batch that changes fewer rows than ``:batch`` is the last.

A case's period runs from its end: ``closed_at``, or for the finished states that never set it
(merged, forwarded, turned into a suggestion) its last change. A case referred from a joint station
holds the name the person gave there, so the shorter of the county's and the joint station's period
applies to it (``:from_ids``/``:from_cutoffs``: the referring tenants' cut-offs; ``:widest``: the
latest cut-off of all, so the index on ``closed_at`` narrows the scan before the exact per-case test).
"""

from __future__ import annotations

from sqlalchemy import text

# The per-case cut-off: the later (so the shorter period) of the county's and the referring tenant's.
_CASE_CUTOFF = """
    CROSS JOIN LATERAL (SELECT greatest(CAST(:cutoff AS timestamptz), coalesce(
        (SELECT r.cutoff FROM unnest(CAST(:from_ids AS bigint[]), CAST(:from_cutoffs AS timestamptz[]))
                AS r(id, cutoff) WHERE r.id = c.referred_from_tenant_id),
        CAST(:cutoff AS timestamptz))) AS at) k"""
_FINISHED = """c.tenant_id = :tenant AND (
         (c.closed_at < :widest AND c.closed_at < k.at)
      OR (c.closed_at IS NULL AND c.state IN ('merged', 'forwarded', 'suggestion')
          AND c.updated_at < :widest AND c.updated_at < k.at))"""


def _scrub(column: str, size: int) -> str:
    """The column with the person's name and mobile (as picked: '' when there is none to look for)
    replaced by the placeholder, cut to the column's size (the placeholder is longer than a name)."""
    return f"left(replace(replace({column}, p.name, :ph), p.mobile, :ph), {size})"


def _mentions(column: str) -> str:
    # strpos finds '' everywhere: an empty name or mobile must not count as mentioned.
    return (f"((p.name <> '' AND strpos({column}, p.name) > 0) "
            f"OR (p.mobile <> '' AND strpos({column}, p.mobile) > 0))")


# The name and mobile are replaced wherever staff copied them (the case's own texts, its history's
# notes, the answer a joint station keeps of a referral) in the same statement that blanks them, so
# the texts are searched with the values still there. A one-character name would mangle the texts:
# it is blanked in its field only. The opinion register row the case came from names the same person.
CASES_SQL = text(f"""
    WITH picked AS (
      SELECT c.id, c.opinion_id,
             CASE WHEN char_length(c.person_name) >= 2 AND c.person_name <> :ph THEN c.person_name ELSE '' END
               AS name,
             coalesce(c.person_mobile, '') AS mobile
        FROM cases c {_CASE_CUTOFF}
       WHERE {_FINISHED}
         AND (c.person_name NOT IN ('', :ph) OR c.person_mobile IS NOT NULL OR c.client_hash IS NOT NULL)
       ORDER BY c.id LIMIT :batch
         FOR UPDATE OF c),
    events AS (
      UPDATE case_events e SET note = {_scrub('e.note', 4000)}
        FROM picked p
       WHERE e.tenant_id = :tenant AND e.case_id = p.id AND {_mentions('e.note')}
      RETURNING 1),
    referrals AS (
      UPDATE joint_referrals r SET answer_summary = {_scrub('r.answer_summary', 600)}
        FROM picked p
       WHERE r.tenant_id = :tenant AND r.case_id = p.id AND {_mentions('r.answer_summary')}
      RETURNING 1),
    opinions AS (
      UPDATE opinions o SET raised_by = :ph
        FROM picked p
       WHERE o.tenant_id = :tenant AND o.id = p.opinion_id AND o.raised_by NOT IN ('', :ph)
      RETURNING 1)
    UPDATE cases c SET person_name = CASE WHEN c.person_name = '' THEN '' ELSE :ph END,
                       person_mobile = NULL, client_hash = NULL,
                       content = {_scrub('c.content', 4000)}, reply_text = {_scrub('c.reply_text', 4000)}
      FROM picked p
     WHERE c.tenant_id = :tenant AND c.id = p.id""")

# Photos of the public may show faces: deleted with their images; the case's history keeps a step
# saying how many went. An image another photo row still uses (none is shared today) stays.
PHOTOS_EVENT = "photos_removed"
PHOTOS_SQL = text(f"""
    WITH picked AS (
      SELECT x.id FROM case_photos x
        JOIN cases c ON c.tenant_id = x.tenant_id AND c.id = x.case_id {_CASE_CUTOFF}
       WHERE x.tenant_id = :tenant AND {_FINISHED}
       ORDER BY x.id LIMIT :batch),
    gone AS (
      DELETE FROM case_photos x USING picked p WHERE x.tenant_id = :tenant AND x.id = p.id
      RETURNING x.case_id, x.image_id),
    images_gone AS (
      DELETE FROM images i
       WHERE i.tenant_id = :tenant AND i.id IN (SELECT image_id FROM gone)
         AND NOT EXISTS (SELECT 1 FROM case_photos o WHERE o.tenant_id = :tenant AND o.image_id = i.id
                                                        AND o.id NOT IN (SELECT id FROM picked))
      RETURNING 1),
    noted AS (
      INSERT INTO case_events (tenant_id, case_id, action, data, public)
      SELECT :tenant, case_id, '{PHOTOS_EVENT}', jsonb_build_object('photos', count(*)), false
        FROM gone GROUP BY case_id
      RETURNING 1)
    SELECT count(*) FROM gone""")

ROSTER_SQL = text("""
    UPDATE roster_entries SET name = :ph, mobile = NULL, age = NULL, education = '', address = '',
                              work_unit = '', note = ''
     WHERE tenant_id = :tenant AND id IN (
       SELECT e.id FROM roster_entries e JOIN deputies d ON d.tenant_id = e.tenant_id AND d.id = e.deputy_id
        WHERE e.tenant_id = :tenant AND d.left_at < :cutoff
          AND (e.name <> :ph OR e.mobile IS NOT NULL OR e.address <> '' OR e.work_unit <> '' OR e.note <> ''
               OR e.age IS NOT NULL OR e.education <> '')
        LIMIT :batch)""")
CONTACTS_SQL = text("""
    UPDATE roster_contacts SET note = ''
     WHERE tenant_id = :tenant AND id IN (
       SELECT c.id FROM roster_contacts c
         JOIN roster_entries e ON e.tenant_id = c.tenant_id AND e.id = c.entry_id
         JOIN deputies d ON d.tenant_id = e.tenant_id AND d.id = e.deputy_id
        WHERE c.tenant_id = :tenant AND d.left_at < :cutoff AND c.note <> '' LIMIT :batch)""")
# A former deputy's own ways of being reached: the private mobile, and the contact the public page
# showed while they served. Name, occupation, work unit, photo, mandates and the record of their
# duty (activities, attendance, suggestions, cases received) stay: that is the public record.
DEPUTIES_SQL = text("""
    UPDATE deputies SET mobile = NULL, public_contact = ''
     WHERE tenant_id = :tenant AND id IN (
       SELECT id FROM deputies
        WHERE tenant_id = :tenant AND left_at < :cutoff AND (mobile IS NOT NULL OR public_contact <> '')
        LIMIT :batch)""")
DELIVERIES_SQL = text("""
    DELETE FROM deliveries WHERE tenant_id = :tenant AND id IN (
      SELECT id FROM deliveries WHERE tenant_id = :tenant AND started_at < :cutoff LIMIT :batch)""")
# Only finished rows: a pending or undecided message still needs its address. An SMS or e-mail keeps a
# non-NULL (empty) address, as the outbox's check requires. The last error may quote the address or
# the provider's text about it.
OUTBOX_SQL = text("""
    UPDATE outbox SET address = CASE WHEN address IS NULL THEN NULL ELSE '' END, body = :ph, params = '{}',
                      last_error = NULL
     WHERE tenant_id = :tenant AND id IN (
       SELECT id FROM outbox WHERE tenant_id = :tenant AND created_at < :cutoff
          AND status IN ('sent', 'failed', 'withdrawn', 'skipped')
          AND (address <> '' OR body <> :ph OR params <> '{}'::jsonb OR last_error IS NOT NULL)
        LIMIT :batch)""")
AUDIT_SQL = text("SELECT prune_audit_log(:now, :batch)")
