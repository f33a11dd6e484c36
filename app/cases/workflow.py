"""The case workflow: one table of steps, shared by the services (``app.cases.steps``) and the case
page (which shows the forms of exactly the steps ``available_steps`` returns).

A step is allowed when the case is in one of its ``from_states`` and the member's role may take it;
the case itself is always one the member can see (``access.get_case``: out of scope is a 404 before
any of this runs). Deputies register and follow cases but take no step except turning a case into a
suggestion (代表不直接处理问题); viewers take none; a handling unit's users only accept, ask for
clarification and reply, and only on their own unit's cases.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from app.cases.access import CaseRef
from app.cases.models import STATE_NAMES, Case, overdue
from app.core.errors import Refusal
from app.core.i18n import gettext, lazy
from app.tenancy.scope import Scope

STAFF = ("county_admin", "township_staff", "station_staff")
ASSIGNERS = ("county_admin", "township_staff")

WRONG_STATE = lazy("This step is not possible now: the case is “%(state)s”.")
ONLY_STAFF = lazy("Only the staff who handle this case may take this step.")
ONLY_ASSIGNERS = lazy("Only county administrators, or township staff for township matters, may assign cases.")
ONLY_COUNTY = lazy("Only county administrators may forward a case to the city or province.")
ONLY_UNIT = lazy("Only the users of the handling unit the case is assigned to may take this step.")
ONLY_SUPERVISORS = lazy("Only county administrators or township staff may supervise a case.")
ONLY_DEPUTY_SUGGESTS = lazy("Deputies register and follow cases; they do not handle them.")
NOT_OVERDUE = lazy("Only an overdue case can be supervised.")
NOT_TOWNSHIP = lazy("Only a township matter can be escalated to the county.")
NOT_UNSATISFIED = lazy("Only a case whose answer was rated “not satisfied” can be sent back.")
REHANDLE_LIMIT = lazy("This case has already been sent back %(count)s time(s), the most the county allows.")
ALREADY_RATED = lazy("The answer has already been rated.")
ONLY_JOINT = lazy("Only a joint station refers cases to its member counties.")
JOINT_FEEDS_BACK = lazy("This case came from a joint station: the joint station feeds the answer back to the person "
                        "and records the satisfaction.")
FED_BACK_AT_JOINT = ("feed_back", "rate")  # of a case referred from a joint station the county is still in
JOINT_REFERS = lazy("A joint station does not handle cases itself: refer the case to the member county whose matter it is.")
# A joint station has no handling units and no outside bodies of its own: it refers instead.
NOT_AT_JOINT = ("assign", "send_back", "escalate", "forward_outside")
# An archived joint station (one member left) is read-only, yet the cases it holds still get their
# answer: its former staff (``steward``: app.joint.archive) take these steps, and no other.
ARCHIVE_STEPS = ("refer", "answer_on_spot", "feed_back", "rate")
ARCHIVED = lazy("This joint station is archived: its former staff may only finish the cases it holds "
                "(refer, answer, feed back, record the satisfaction).")


@dataclass(frozen=True)
class Step:
    name: str
    from_states: tuple[str, ...]
    to_state: str | None  # None: the state does not change
    roles: tuple[str, ...]
    only: str  # the refusal for any other role
    label: str
    public: bool = False  # shown (generically) on the receipt lookup


def _step(name, from_states, to_state, roles, only, label, public=False) -> Step:
    return Step(name, tuple(from_states), to_state, tuple(roles), only, label, public)


STEPS = {s.name: s for s in (
    _step("classify", ["registered"], None, STAFF, ONLY_STAFF, lazy("Category and urgency set")),
    _step("answer_on_spot", ["registered"], "closed", STAFF, ONLY_STAFF, lazy("Answered on the spot"), True),
    _step("assign", ["registered"], "assigned", ASSIGNERS, ONLY_ASSIGNERS, lazy("Assigned to a handling unit"), True),
    _step("escalate", ["registered"], None, ASSIGNERS, ONLY_ASSIGNERS, lazy("Escalated to the county")),
    _step("forward_outside", ["registered"], "forwarded", ["county_admin"], ONLY_COUNTY,
          lazy("Forwarded to the city or province"), True),
    _step("accept", ["assigned"], "accepted", ["handling_unit"], ONLY_UNIT, lazy("Accepted by the handling unit"), True),
    _step("ask_clarification", ["assigned", "accepted"], "clarifying", ["handling_unit"], ONLY_UNIT,
          lazy("Clarification asked by the handling unit")),
    _step("clarify", ["clarifying"], "accepted", STAFF, ONLY_STAFF, lazy("Clarification given"), True),
    _step("reply", ["accepted"], "replied", ["handling_unit"], ONLY_UNIT, lazy("Replied by the handling unit"), True),
    _step("feed_back", ["replied"], "fed_back", STAFF, ONLY_STAFF, lazy("Answer fed back"), True),
    _step("rate", ["fed_back"], "closed", STAFF, ONLY_STAFF, lazy("Satisfaction recorded"), True),
    _step("send_back", ["closed"], "assigned", ASSIGNERS, ONLY_ASSIGNERS, lazy("Sent back for re-handling"), True),
    _step("supervise", ["assigned", "accepted", "clarifying", "replied"], None, ASSIGNERS, ONLY_SUPERVISORS,
          lazy("Supervised (督办)")),
    _step("to_suggestion", ["registered", "closed"], "suggestion", STAFF + ("deputy",), ONLY_STAFF,
          lazy("Turned into a deputy's suggestion"), True),
    _step("merge", ["registered"], "merged", STAFF, ONLY_STAFF, lazy("Merged into another case")),
    # joint stations only (app.joint.referrals): to the member county (or counties) whose jurisdiction it is
    _step("refer", ["registered"], "referred", STAFF, ONLY_STAFF, lazy("Referred to a member county"), True),
)}
# The page's order of the forms (most usual first).
STEP_ORDER = ("refer", "accept", "reply", "ask_clarification", "clarify", "classify", "assign", "answer_on_spot", "feed_back", "rate",
              "send_back", "supervise", "escalate", "forward_outside", "to_suggestion", "merge")
# History labels of steps that are not workflow steps.
OTHER_EVENTS = {"registered": lazy("Registered"), "rated_by_public": lazy("Satisfaction given by the person"),
                "merged_here": lazy("A duplicate case was merged into this one"),
                "sent_back_by_person": lazy("Not satisfied: sent back to the handling unit for re-handling"),
                "rating_lapsed": lazy("Closed without a rating: the period for rating ended"),
                "referral_answered": lazy("Answer received from a member county"),
                "referral_reopened": lazy("Sent back for re-handling by the member county"),
                "joint_fed_back": lazy("Answer fed back to the person through the joint station"),
                "joint_rated": lazy("Satisfaction given through the joint station"),
                "photos_removed": lazy("Photos deleted at the end of the retention period")}


def event_label(action: str) -> str:
    if action in STEPS:
        return STEPS[action].label
    return OTHER_EVENTS.get(action, action)


def is_overdue(case: Case, today: date) -> bool:
    """Reply late or feedback late (``app.cases.models.overdue``)."""
    return overdue(case.state, case.reply_due, case.feedback_due, today)


def wrong_state(case: Case) -> Refusal:
    return Refusal(WRONG_STATE, state=gettext(STATE_NAMES.get(case.state, case.state)))


def check(step: str, scope: Scope, ref: CaseRef, *, today: date, rehandle_limit: int,
          tenant_kind: str = "county", joint_feeds_back: bool = False, steward: bool = False) -> Step:
    """The step, if this member may take it on this case now; else a Refusal (nothing written).
    ``tenant_kind``: the case's tenant's kind ("refer" is a joint station's step only);
    ``joint_feeds_back``: the case was referred from a joint station that still feeds back for it;
    ``steward``: the member, a viewer of an archived joint station, was its staff (ARCHIVE_STEPS)."""
    spec = STEPS.get(step)
    if spec is None:
        raise Refusal(WRONG_STATE, status=404, state="")
    if spec.name == "refer" and tenant_kind != "joint":
        raise Refusal(ONLY_JOINT, status=404)
    if spec.name in NOT_AT_JOINT and tenant_kind == "joint":
        raise Refusal(JOINT_REFERS)
    if spec.name in FED_BACK_AT_JOINT and joint_feeds_back:
        raise Refusal(JOINT_FEEDS_BACK)
    case = ref.case
    role = scope.role
    if steward:
        if spec.name not in ARCHIVE_STEPS:
            raise Refusal(ARCHIVED, status=403)
        role = "station_staff"
    if role == "deputy" and step != "to_suggestion":
        raise Refusal(ONLY_DEPUTY_SUGGESTS, status=403)
    if role not in spec.roles:
        raise Refusal(spec.only, status=403)
    if scope.role == "handling_unit" and (scope.handling_unit_id is None
                                          or scope.handling_unit_id != case.handling_unit_id):
        raise Refusal(ONLY_UNIT, status=403)
    if case.state not in spec.from_states:
        raise wrong_state(case)
    _check_special(spec, scope, case, today, rehandle_limit)
    return spec


def _check_special(spec: Step, scope: Scope, case: Case, today: date, rehandle_limit: int) -> None:
    """The conditions beyond state and role."""
    if spec.name in ("assign", "send_back") and scope.role == "township_staff" and case.level != "township":
        raise Refusal(ONLY_ASSIGNERS, status=403)
    if spec.name == "escalate" and case.level != "township":
        raise Refusal(NOT_TOWNSHIP)
    if spec.name == "supervise" and not is_overdue(case, today):
        raise Refusal(NOT_OVERDUE)
    if spec.name == "rate" and case.satisfaction is not None:
        raise Refusal(ALREADY_RATED)
    if spec.name == "send_back":
        if case.satisfaction != "unsatisfied" or case.handling_unit_id is None:
            raise Refusal(NOT_UNSATISFIED)
        if case.rehandled >= rehandle_limit:
            raise Refusal(REHANDLE_LIMIT, count=case.rehandled)
    if spec.name == "to_suggestion" and case.suggestion_id is not None:
        raise wrong_state(case)


def available_steps(scope: Scope, ref: CaseRef, *, today: date, rehandle_limit: int,
                    tenant_kind: str = "county", joint_feeds_back: bool = False, steward: bool = False) -> list[str]:
    """The steps this member may take on this case now, in the page's order."""
    out = []
    for name in STEP_ORDER:
        try:
            check(name, scope, ref, today=today, rehandle_limit=rehandle_limit, tenant_kind=tenant_kind,
                  joint_feeds_back=joint_feeds_back, steward=steward)
        except Refusal:
            continue
        out.append(name)
    return out
