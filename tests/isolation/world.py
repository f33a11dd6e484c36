"""Two tenants, A ("alpha") and B ("beta"), each with people, places, memberships, invitations and
audit entries, built through the product's own services. The isolation tests attack one from the
other."""

from __future__ import annotations

from dataclasses import dataclass, field

from app.accounts.invitations import invite
from tests.factories import add_member, make_tenant, make_user
from tests.isolation.catalog import tenant_tables

NODES = (("城关镇", "town"), ("城关镇/东街社区", "community"), ("河坝乡", "town"))


@dataclass
class Side:
    slug: str
    tenant: object
    users: dict = field(default_factory=dict)  # role -> User
    ids: dict = field(default_factory=dict)  # table -> [id, ...] (tenant tables with an id column)
    invitation_tokens: list = field(default_factory=list)

    @property
    def id(self) -> int:
        return self.tenant.id

    def all_ids(self) -> set[int]:
        return {i for ids in self.ids.values() for i in ids}


@dataclass
class World:
    a: Side
    b: Side


async def _side(database, slug: str, prefix: str, mobile_base: int) -> Side:
    tenant = await make_tenant(database, slug, nodes=NODES)
    side = Side(slug=slug, tenant=tenant)
    for n, (role, scope) in enumerate(
        (("county_admin", None), ("township_staff", "城关镇"), ("viewer", None), ("station_staff", None),
         ("handling_unit", None))
    ):
        user = await make_user(database, f"{prefix}-{role.replace('_', '-')}", mobile=f"1{mobile_base + n}")
        await add_member(database, tenant, user, role, scope=scope)
        side.users[role] = user
    async with database.transaction(tenant_id=tenant.id) as db:
        for name, role in (("待邀请甲", "viewer"), ("待邀请乙", "station_staff")):
            issued = await invite(db, tenant_id=tenant.id, actor_id=side.users["county_admin"].id,
                                  display_name=name, role=role, mobile=None)
            side.invitation_tokens.append(issued.token)
    async with database.transaction(tenant_id=tenant.id) as db:
        await _places_and_people(db, side, mobile_base)
    return side


def _png() -> bytes:
    import io

    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (40, 30), (180, 40, 30)).save(out, "PNG")
    return out.getvalue()


async def _places_and_people(db, side: Side, mobile_base: int) -> None:
    """One row (at least) in every table of places and people, so isolation covers them all."""
    from datetime import date

    from sqlalchemy import select, update

    from app.accounts.models import Membership
    from app.core.images import store_image
    from app.deputies.models import (
        Commitment, Deputy, DeputyGroup, ImportJob, Mandate, RosterContact, RosterEntry, StationDeputy,
    )
    from app.stations.models import (
        ChecklistItem, ModelStation, StarRating, Station, StationEvent, StationGoal, StationKind, StationScore,
        StationStaff,
    )
    from app.duties.models import DutyDocument, DutyEntry
    from app.tenancy.models import AdminNode, TenantConfig

    t = side.id
    admin = side.users["county_admin"].id
    node = await db.scalar(select(AdminNode).where(AdminNode.name == "东街社区"))
    db.add(TenantConfig(tenant_id=t, forbidden_words=["人大代表工作室"], checklist_name="八有"))
    photo = await store_image(db, t, _png())
    kind = StationKind(tenant_id=t, code="station", name="代表联络站", node_kinds=["community"])
    db.add(kind)
    await db.flush()
    station = Station(tenant_id=t, kind_id=kind.id, node_id=node.id, name=f"{side.slug}东街社区人大代表联络站",
                      status="active", photo_id=photo.id, contact_phone="0816-1234567")
    group = DeputyGroup(tenant_id=t, name="城关镇代表小组")
    db.add_all([station, group])
    await db.flush()
    deputy = Deputy(tenant_id=t, name=f"{side.slug}代表", group_id=group.id, mobile=f"1{mobile_base + 50}",
                    photo_id=photo.id)
    item = ChecklistItem(tenant_id=t, code="place", label="有场所")
    db.add_all([deputy, item])
    await db.flush()
    entry = RosterEntry(tenant_id=t, deputy_id=deputy.id, name="选民甲", age=50, address="东街1号",
                        mobile=f"1{mobile_base + 60}")
    db.add_all([
        StationEvent(tenant_id=t, station_id=station.id, action="created", to_status="proposed",
                     actor_user_id=admin),
        StationStaff(tenant_id=t, station_id=station.id, role="liaison", user_id=side.users["station_staff"].id),
        StationGoal(tenant_id=t, station_id=station.id, year=2026, goal="每月接待选民一次"),
        StationScore(tenant_id=t, station_id=station.id, item_id=item.id, met=True, scored_by=admin),
        StarRating(tenant_id=t, station_id=station.id, year=2026, stars=5, met=1, items=1, scored_by=admin),
        ModelStation(tenant_id=t, station_id=station.id, year=2026, reason="接待群众多", selected_on=date(2026, 1, 5),
                     selected_by=admin),
        Mandate(tenant_id=t, deputy_id=deputy.id, level="county", term=18, direct=True,
                constituency_node_id=node.id),
        StationDeputy(tenant_id=t, station_id=station.id, deputy_id=deputy.id),
        Commitment(tenant_id=t, station_id=station.id, deputy_id=deputy.id, year=2026, commitment="每季度走访选区"),
        entry,
        ImportJob(tenant_id=t, kind="deputies", filename="deputies.xlsx", created_by=admin),
    ])
    await db.flush()
    db.add(RosterContact(tenant_id=t, entry_id=entry.id, contacted_on=date(2026, 3, 1), note="电话联系"))
    document = DutyDocument(tenant_id=t, media_type="application/pdf", file_name="发言稿.pdf", size=9,
                            data=b"%PDF-1.4\n")
    db.add(document)
    await db.flush()
    db.add(DutyEntry(tenant_id=t, deputy_id=deputy.id, day=date(2026, 3, 2), kind="speech", text="审议发言",
                     image_id=photo.id, document_id=document.id, filed_by=admin))
    await db.execute(update(DeputyGroup).where(DeputyGroup.id == group.id).values(leader_deputy_id=deputy.id))
    await db.execute(update(Membership).where(Membership.user_id == side.users["station_staff"].id)
                     .values(station_id=station.id))
    await _duty_reports(db, side, station, deputy)
    await _appraisals(db, side, deputy)
    await _points(db, side, deputy)
    await _deputy_receptions(db, side, deputy)
    await _presidium(db, side, deputy)
    await _binder_build(db, side, station)
    await _activities(db, side, station, deputy, group, photo)


async def _appraisals(db, side: Side, deputy) -> None:
    """A published appraisal with the deputy's result, report and talk (app.duties.appraisal)."""
    from datetime import date, datetime, timezone
    from decimal import Decimal

    from app.duties.appraisal_models import Appraisal, AppraisalResult, AppraisalTalk

    t, admin = side.id, side.users["county_admin"].id
    at = datetime(2027, 1, 10, 2, tzinfo=timezone.utc)
    appraisal = Appraisal(tenant_id=t, year=2026, status="published", report_due=date(2027, 2, 1), created_by=admin,
                          published_by=admin, published_at=at)
    db.add(appraisal)
    await db.flush()
    db.add_all([
        AppraisalResult(tenant_id=t, appraisal_id=appraisal.id, deputy_id=deputy.id, computed=Decimal("75.0"),
                        adjusted=Decimal("78.5"), reason="补记视察", grade="fail", notice_at=at,
                        report_text="加强联系选民", report_at=at, report_by=admin),
        AppraisalTalk(tenant_id=t, appraisal_id=appraisal.id, deputy_id=deputy.id, day=date(2027, 1, 12),
                      talked_by="主任", agreed="每月进站一次", recorded_by=admin),
    ])
    await db.flush()


async def _deputy_receptions(db, side: Side, deputy) -> None:
    """The township presidium receiving the deputy, answered (app.binder.receptions)."""
    from datetime import date, datetime, timezone

    from sqlalchemy import select

    from app.binder.models import DeputyReception, DeputyReceptionDeputy
    from app.tenancy.models import AdminNode

    t, admin = side.id, side.users["county_admin"].id
    town = await db.scalar(select(AdminNode.id).where(AdminNode.name == "城关镇"))
    reception = DeputyReception(tenant_id=t, node_id=town, received_on=date(2026, 3, 5), received_by="镇人大主席",
                                matter="村道硬化进度", reply="已列入计划", replied_by=admin,
                                replied_at=datetime(2026, 3, 6, 2, tzinfo=timezone.utc), created_by=admin)
    db.add(reception)
    await db.flush()
    db.add(DeputyReceptionDeputy(tenant_id=t, reception_id=reception.id, deputy_id=deputy.id))
    await db.flush()


async def _binder_build(db, side: Side, station) -> None:
    """The county admin's binder of one station, built and ready to download (app.binder.builds)."""
    from datetime import datetime, timedelta, timezone

    from app.binder.build_models import BinderBuild

    at = datetime.now(timezone.utc)
    db.add(BinderBuild(tenant_id=side.id, requested_by=side.users["county_admin"].id, role="county_admin",
                       locale="zh_Hans", station_id=station.id, year=2026, status="done", parts_done=1,
                       parts_total=1, data=b"PK\x05\x06" + bytes(18), size=22, finished_at=at,
                       expires_at=at + timedelta(days=7)))
    await db.flush()


async def _presidium(db, side: Side, deputy) -> None:
    """城关镇's presidium: a member who is the deputy, contacting them (app.binder.presidium)."""
    from sqlalchemy import select

    from app.binder.models import PresidiumContact, PresidiumMember
    from app.tenancy.models import AdminNode

    t = side.id
    town = await db.scalar(select(AdminNode.id).where(AdminNode.name == "城关镇"))
    member = PresidiumMember(tenant_id=t, node_id=town, name="镇人大主席", post="主席", deputy_id=deputy.id,
                             mobile=deputy.mobile, sort=1, created_by=side.users["county_admin"].id)
    db.add(member)
    await db.flush()
    db.add(PresidiumContact(tenant_id=t, member_id=member.id, deputy_id=deputy.id))
    await db.flush()


async def _points(db, side: Side, deputy) -> None:
    """A points item, a published quarter with the deputy's figure and a resolved correction
    request (app.duties.points, point_publishing)."""
    from datetime import datetime, timezone
    from decimal import Decimal

    from app.duties.point_models import PointsCorrection, PointsItem, PointsPublication, PublishedPoints

    t, admin = side.id, side.users["county_admin"].id
    db.add(PointsItem(tenant_id=t, code="speech", name="审议发言", source="entry", source_code="speech",
                      points=Decimal("3"), cap_period="quarter", cap_points=Decimal("9"), deputy_levels=["county"]))
    publication = PointsPublication(tenant_id=t, period="2026-Q1", deputies=1, published_by=admin,
                                    published_at=datetime(2026, 4, 2, 2, tzinfo=timezone.utc))
    db.add(publication)
    await db.flush()
    db.add(PublishedPoints(tenant_id=t, publication_id=publication.id, deputy_id=deputy.id, points=Decimal("3"),
                           rank=1, peers=1, ranked_in="东街社区"))
    await db.flush()
    db.add(PointsCorrection(tenant_id=t, publication_id=publication.id, deputy_id=deputy.id, text="少计一次视察",
                            status="accepted", answer="已补录", filed_by=admin, resolved_by=admin,
                            resolved_at=datetime(2026, 4, 3, 2, tzinfo=timezone.utc)))
    await db.flush()


async def _duty_reports(db, side: Side, station, deputy) -> None:
    """A closed duty report meeting with a paper and a phone ballot (app.duties.meetings)."""
    from datetime import date, datetime, timezone

    from app.duties.meeting_models import DutyReportBallot, DutyReportMeeting

    t = side.id
    meeting = DutyReportMeeting(tenant_id=t, deputy_id=deputy.id, station_id=station.id, held_on=date(2026, 3, 3),
                                starts_at=datetime(2026, 3, 3, 1, tzinfo=timezone.utc),
                                ends_at=datetime(2026, 3, 3, 3, tzinfo=timezone.utc), place="东街社区会议室",
                                voters_present=30, status="closed", ballot_token=f"{side.slug}-ballot-token",
                                created_by=side.users["county_admin"].id)
    db.add(meeting)
    await db.flush()
    db.add_all([
        DutyReportBallot(tenant_id=t, meeting_id=meeting.id, rating="satisfied", source="paper",
                         entered_by=side.users["county_admin"].id),
        DutyReportBallot(tenant_id=t, meeting_id=meeting.id, rating="basic", comment="多走访", source="phone",
                         phone_hash="0" * 64, client_hash="1" * 64),
    ])
    await db.flush()


async def _activities(db, side: Side, station, deputy, group, photo) -> None:
    """One row in every table of activities and rules."""
    from datetime import date, datetime, timedelta, timezone

    from app.activities.models import (
        Activity, ActivityEvent, ActivityKind, ActivityPhoto, ActivityPlan, Attendance, Invitation, Opinion,
        SigninCode, Suggestion,
    )
    from app.activities.models import Rule

    t = side.id
    admin = side.users["county_admin"].id
    kind = ActivityKind(tenant_id=t, code="reception", name="接待选民")
    plan = ActivityPlan(tenant_id=t, station_id=station.id, year=2026, status="published", created_by=admin)
    db.add_all([kind, plan])
    await db.flush()
    start = datetime(2026, 3, 15, 1, 0, tzinfo=timezone.utc)
    held = Activity(tenant_id=t, kind_id=kind.id, station_id=station.id, plan_id=plan.id, starts_at=start,
                    ends_at=start + timedelta(hours=3), place="联络站", topic="接待选民", status="held",
                    notes="接待群众三人", people_received=3, created_by=admin)
    group_meeting = Activity(tenant_id=t, kind_id=kind.id, group_id=group.id, starts_at=start,
                             ends_at=start + timedelta(hours=2), topic="小组活动", created_by=admin)
    db.add_all([held, group_meeting])
    await db.flush()
    db.add_all([
        ActivityEvent(tenant_id=t, activity_id=held.id, action="created", actor_user_id=admin),
        Invitation(tenant_id=t, activity_id=held.id, deputy_id=deputy.id, token=f"{side.slug}-signin-token-0001",
                   invited_by=admin),
        SigninCode(tenant_id=t, activity_id=held.id, code=f"{side.slug}code1",
                   expires_at=start + timedelta(minutes=2)),
        ActivityPhoto(tenant_id=t, activity_id=held.id, image_id=photo.id, caption="现场"),
        Opinion(tenant_id=t, activity_id=held.id, station_id=station.id, deputy_id=deputy.id,
                received_on=date(2026, 3, 15), raised_by="村民甲", content="村道需要硬化"),
        Suggestion(tenant_id=t, deputy_id=deputy.id, title="关于村道硬化的建议", filed_on=date(2026, 3, 20)),
        Rule(tenant_id=t, code="monthly-reception", name="每月接待选民一次", subject="station",
             kind_codes=["reception"], period="month", minimum=1),
        Rule(tenant_id=t, code="yearly-suggestion", name="每年提出一件建议", subject="deputy",
             counts="suggestions", period="year", minimum=1),
    ])
    await db.flush()
    db.add(Attendance(tenant_id=t, activity_id=held.id, deputy_id=deputy.id, method="staff",
                      on_behalf_reason="手机没电", recorded_by=admin))
    await _cases(db, side, station, deputy, held, photo)
    await _notifications(db, side, deputy, held)
    await _joint(db, side, deputy)


async def _joint(db, side: Side, deputy) -> None:
    """A joint-station agreement this county proposed (its own copy, its own key) and its history, and
    a deputy projection (as a joint tenant holds them)."""
    import uuid

    from sqlalchemy import select

    from app.joint.models import JointAgreement, JointDeputy, JointEvent

    t = side.id
    agreement = JointAgreement(tenant_id=t, agreement_key=uuid.uuid4(), name=f"{side.slug}省际人大代表联络站",
                               slug=f"{side.slug}-joint", proposer_tenant_id=t, shares=["deputies"],
                               parties=[{"tenant_id": t, "name": side.slug, "status": "proposer", "towns": ["城关镇"],
                                         "co_heads": ["主席"], "deputy_heads": [], "staff": []}])
    db.add(agreement)
    await db.flush()
    db.add(JointEvent(tenant_id=t, agreement_id=agreement.id, actor_tenant_id=t, actor_name=side.slug,
                      action="proposed"))
    db.add(JointDeputy(tenant_id=t, home_tenant_id=t, home_deputy_id=deputy.id, name=deputy.name, levels=["county"],
                       deputy_id=deputy.id))
    # as a joint tenant refers a case and a county holds its deputies' joint attendance
    from datetime import datetime, timezone

    from app.cases.models import Case
    from app.activities.models import JointAttendance
    from app.cases.models import JointReferral

    case = await db.scalar(select(Case).where(Case.tenant_id == t).limit(1))
    db.add(JointReferral(tenant_id=t, case_id=case.id, county_tenant_id=t, county_case_id=case.id,
                         county_receipt_code=case.receipt_code, state="assigned"))
    db.add(JointAttendance(tenant_id=t, deputy_id=deputy.id, joint_tenant_id=t, joint_name="两广联络站",
                           joint_activity_id=1, kind_name="站长协商会", starts_at=datetime(2026, 3, 1, tzinfo=timezone.utc),
                           status="held", present=True, method="link"))


async def _notifications(db, side: Side, deputy, activity) -> None:
    """One row in every table of reminders and notifications: an SMS to the deputy (sent, with its
    delivery) and an in-app message to the county admin."""
    from datetime import datetime, timezone

    from sqlalchemy import text

    from app.notify.models import Delivery, Outbox, WorkNotice

    t, now = side.id, datetime(2026, 3, 12, 9, 0, tzinfo=timezone.utc)
    sms = Outbox(tenant_id=t, dedupe_key=f"activity_sms:activity:{activity.id}:d{deputy.id}:sms", kind="activity_sms",
                 channel="sms", subject=f"activity:{activity.id}", deputy_id=deputy.id, address=deputy.mobile,
                 body=f"{side.slug}代表：请参加接待活动", due_at=now, next_attempt_at=now, status="sent", attempts=1,
                 sent_at=now, provider_id=f"{side.slug}-biz-1")
    db.add_all([sms, Outbox(tenant_id=t, dedupe_key="activity_liaison:x", kind="activity_liaison", channel="inapp",
                            subject=f"activity:{activity.id}", user_id=side.users["county_admin"].id,
                            body=f"{side.slug}：一周后接待", due_at=now, next_attempt_at=now, status="sent", sent_at=now)])
    await db.flush()
    db.add(Delivery(tenant_id=t, outbox_id=sms.id, attempt=1, channel="sms", started_at=now, finished_at=now,
                    result="sent", provider_id=sms.provider_id))
    db.add(WorkNotice(tenant_id=t, kind="station_waiting", subject=f"station:{activity.station_id}",
                      station_id=activity.station_id, state="proposed"))
    # A short link (producers make them as they write SMS) and a miss on /s/ by someone guessing codes.
    await db.execute(text("INSERT INTO short_links (tenant_id, code, target, expires_at) "
                          "VALUES (:t, :code, :target, now() + interval '1 day') ON CONFLICT DO NOTHING"),
                     {"t": t, "code": "ABCDEFGHJ" + "23456789"[t % 8], "target": f"/t/{side.slug}/activities/{activity.id}"})
    await db.execute(text("INSERT INTO short_link_misses (tenant_id, client_hash) VALUES (:t, :h)"),
                     {"t": t, "h": "0" * 64})


async def _cases(db, side: Side, station, deputy, activity, photo) -> None:
    """One row in every table of cases."""
    from sqlalchemy import update

    from app.accounts.models import Membership
    from app.cases.codes import issue_rating_code
    from app.cases.models import Case, CaseCategory, CaseEvent, CasePhoto, DueRule, LookupMiss, MailboxOpening
    from app.tenancy.models import HandlingUnit

    t = side.id
    admin = side.users["county_admin"].id
    category = CaseCategory(tenant_id=t, code="roads", name="道路交通")
    unit = HandlingUnit(tenant_id=t, code="transport", name=f"{side.slug}县交通运输局", kind="county_department",
                        level="county")
    db.add_all([category, unit])
    await db.flush()
    case = Case(tenant_id=t, receipt_code=f"{side.slug.upper()}CODE1"[:10], source="reception",
                person_name="村民乙", person_mobile="13912345678", content="村口路灯坏了", category_id=category.id,
                node_id=station.node_id, station_id=station.id, deputy_id=deputy.id, activity_id=activity.id,
                state="assigned", level="county", handling_unit_id=unit.id, created_by=admin)
    db.add_all([case, DueRule(tenant_id=t, level="county", reply_days=15, feedback_days=5),
                MailboxOpening(tenant_id=t, station_id=station.id, opened_by=admin, letters=2)])
    await db.flush()
    db.add_all([CaseEvent(tenant_id=t, case_id=case.id, action="registered", to_state="registered", public=True,
                          actor_user_id=admin),
                CasePhoto(tenant_id=t, case_id=case.id, image_id=photo.id),
                LookupMiss(tenant_id=t, client_hash="0" * 64)])
    await issue_rating_code(db, case, "receipt")
    await db.execute(update(Membership).where(Membership.user_id == side.users["handling_unit"].id)
                     .values(handling_unit_id=unit.id))
    await _data_export(db, side)


async def _data_export(db, side: Side) -> None:
    """A finished export of all of the county's data (app.data), ready to download."""
    from datetime import datetime, timedelta, timezone

    from app.data.models import DataExport

    at = datetime.now(timezone.utc)
    db.add(DataExport(tenant_id=side.id, status="done", requested_by=side.users["county_admin"].id,
                      data=b"PK\x05\x06" + bytes(18), size=22, total=1, processed=1, finished_at=at,
                      expires_at=at + timedelta(days=7)))
    await db.flush()


async def _compliance_snapshot(database, side: Side) -> None:
    """The worker's compliance snapshot (app.compliance.snapshots), then a change it has not caught up
    with yet (a stale marker, as any write to the records it counts leaves)."""
    from datetime import datetime, timezone

    from sqlalchemy import text

    from app.compliance.snapshot_jobs import refresh_tenant

    assert await refresh_tenant(database, side.id, datetime.now(timezone.utc))
    async with database.transaction(tenant_id=side.id) as db:
        await db.execute(text("INSERT INTO compliance_stale (tenant_id) VALUES (:t)"), {"t": side.id})


async def build_world(database, owner_sql) -> World:
    a = await _side(database, "alpha", "alpha", 3800138000)
    b = await _side(database, "beta", "beta", 3900139000)
    for side in (a, b):
        await _compliance_snapshot(database, side)
    tables = await tenant_tables_sql(owner_sql)
    for side in (a, b):
        for table in tables:
            has_id = await owner_sql(
                "SELECT 1 FROM information_schema.columns WHERE table_schema = 'public' "
                "AND table_name = $1 AND column_name = 'id'", table,
            )
            if has_id:
                rows = await owner_sql(f"SELECT id FROM {table} WHERE tenant_id = $1 ORDER BY id", side.id)
                side.ids[table] = [r["id"] for r in rows]
    return World(a=a, b=b)


async def tenant_tables_sql(owner_sql) -> list[str]:
    class _Conn:  # tenant_tables() wants something with .fetch
        async def fetch(self, sql, *args):
            return await owner_sql(sql, *args)

    return await tenant_tables(_Conn())


async def snapshot(owner_sql, tenant_id: int, user_ids=()) -> dict[str, tuple[int, str]]:
    """(row count, digest of the rows) of every tenant table for one tenant, and of the given users'
    account and session rows: a change of any value shows."""
    out = {}
    for table in await tenant_tables_sql(owner_sql):
        row = (await owner_sql(
            f"SELECT count(*) AS n, md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) AS h "
            f"FROM {table} t WHERE tenant_id = $1", tenant_id,
        ))[0]
        out[table] = (row["n"], row["h"])
    for table, column in (("users", "id"), ("user_sessions", "user_id")):
        row = (await owner_sql(
            f"SELECT count(*) AS n, md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) AS h "
            f"FROM {table} t WHERE {column} = ANY($1::bigint[])", list(user_ids),
        ))[0]
        out[table] = (row["n"], row["h"])
    row = (await owner_sql("SELECT status, name FROM tenants WHERE id = $1", tenant_id))[0]
    out["tenants"] = (1, f"{row['status']}|{row['name']}")
    return out
