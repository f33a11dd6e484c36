"""Append-only audit logs: one per tenant (RLS) and one for the platform."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, DateTime, Identity, String, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base
from app.core.i18n import lazy


class AuditEntry(Base):
    __tablename__ = "audit_log"

    tenant_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    actor_user_id: Mapped[int | None] = mapped_column(BigInteger)
    action: Mapped[str] = mapped_column(String(60))
    target: Mapped[str | None] = mapped_column(String(200))
    client_addr: Mapped[str | None] = mapped_column(String(64))
    details: Mapped[dict | None] = mapped_column(JSONB)


class PlatformAuditEntry(Base):
    """Sign-ins and operator actions; ``subject_tenant_id`` names the tenant acted on, if any."""

    __tablename__ = "platform_audit_log"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    actor_user_id: Mapped[int | None] = mapped_column(BigInteger)
    action: Mapped[str] = mapped_column(String(60))
    subject_tenant_id: Mapped[int | None] = mapped_column(BigInteger)
    target: Mapped[str | None] = mapped_column(String(200))
    client_addr: Mapped[str | None] = mapped_column(String(64))
    details: Mapped[dict | None] = mapped_column(JSONB)


# Readable names of tenant audit actions (translated where shown); an action without one is shown
# as its code. Add an entry whenever a domain records a new action.
ACTION_NAMES = {
    "tenant_entered": lazy("Entered the unit"),
    "invitation_created": lazy("Invitation created"),
    "invitation_accepted": lazy("Invitation accepted"),
    "invitation_revoked": lazy("Invitation withdrawn"),
    "membership_role_changed": lazy("Role changed"),
    "membership_removed": lazy("Member removed"),
    "account_unlocked": lazy("Member's sign-in unlocked"),
    "roster_entry_added": lazy("Constituent added to a contact roster"),
    "roster_entry_changed": lazy("Contact roster entry changed"),
    "roster_entry_retired": lazy("Constituent taken off a contact roster"),
    "roster_entry_revealed": lazy("Constituent's mobile and address shown"),
    "roster_contact_added": lazy("Contact with a constituent recorded"),
    "roster_exported": lazy("Contact roster exported"),
    "deputies_exported": lazy("Deputies exported"),
    "import_previewed": lazy("Spreadsheet checked for import"),
    "import_confirmed": lazy("Spreadsheet import confirmed"),
    "import_completed": lazy("Spreadsheet imported"),
    # deputies (app/deputies/services.py, groups.py)
    "deputy_created": lazy("Deputy added"),
    "deputy_updated": lazy("Deputy's details changed"),
    "deputy_mobile_revealed": lazy("Deputy's mobile number viewed"),
    "deputy_status_changed": lazy("Deputy's status changed"),
    "deputy_photo_changed": lazy("Deputy's photo changed"),
    "deputy_user_linked": lazy("Deputy's linked account changed"),
    "deputy_mandate_added": lazy("Deputy's mandate added"),
    "deputy_mandate_removed": lazy("Deputy's mandate removed"),
    "deputy_assigned": lazy("Deputy stationed"),
    "deputy_assignment_ended": lazy("Deputy's stationing ended"),
    "deputy_group_created": lazy("Deputy group added"),
    "deputy_group_renamed": lazy("Deputy group renamed"),
    "deputy_group_leader_set": lazy("Deputy group leader set"),
    "node_added": lazy("Place added to the tree"),
    "node_renamed": lazy("Place renamed"),
    "node_moved": lazy("Place moved"),
    "node_retired": lazy("Place retired"),
    "config_saved": lazy("County settings saved"),
    "retention_saved": lazy("Retention periods saved"),
    "station_kind_added": lazy("Station kind added"),
    "station_kind_changed": lazy("Station kind changed"),
    "station_kind_retired": lazy("Station kind retired"),
    "checklist_item_added": lazy("Checklist item added"),
    "checklist_item_changed": lazy("Checklist item changed"),
    "checklist_item_retired": lazy("Checklist item retired"),
    "station_created": lazy("Station proposed"),
    "station_renamed": lazy("Station renamed"),
    "station_approved": lazy("Station approved by the township"),
    "station_filed": lazy("Station filed with the county"),
    "station_activated": lazy("Station put into operation"),
    "station_closed": lazy("Station closed down"),
    "station_sent_back": lazy("Station sent back to proposed"),
    "station_profile_changed": lazy("Station profile changed"),
    "station_photo_changed": lazy("Station photo changed"),
    "station_staff_added": lazy("Station staff added"),
    "station_staff_removed": lazy("Station staff removed"),
    "station_goal_added": lazy("Station goal added"),
    "station_goal_changed": lazy("Station goal updated"),
    "station_commitment_added": lazy("Deputy's commitment added"),
    "station_commitment_removed": lazy("Deputy's commitment removed"),
    "station_scored": lazy("Station checklist scored"),
    "model_station_selected": lazy("Model home or station selected for a year"),
    "model_station_withdrawn": lazy("Model home or station selection withdrawn"),
    "duty_entry_filed": lazy("Duty entry filed in a deputy's dossier"),
    "duty_entries_approved": lazy("Duty entries approved"),
    "duty_entries_rejected": lazy("Duty entries rejected"),
    "duty_document_downloaded": lazy("Document of a duty entry downloaded"),
    "duty_settings_saved": lazy("Duty settings saved"),
    "appraisal_drafted": lazy("Yearly duty appraisal computed as a draft"),
    "appraisal_adjusted": lazy("Appraisal score adjusted"),
    "appraisal_published": lazy("Yearly duty appraisal published"),
    "appraisal_report_filed": lazy("Rectification report handed in"),
    "appraisal_talk_recorded": lazy("Talk with a deputy recorded"),
    "duty_report_created": lazy("Duty report meeting created"),
    "duty_report_paper": lazy("Paper ballots of a duty report entered"),
    "duty_report_voters": lazy("Voters present at a duty report saved"),
    "duty_report_opened": lazy("Phone voting on a duty report opened"),
    "duty_report_closed": lazy("Duty report meeting closed"),
    "points_item_saved": lazy("Duty points item saved"),
    "points_item_retired": lazy("Duty points item retired"),
    "points_published": lazy("Quarter's duty points published to the deputies"),
    "points_exported": lazy("Duty points exported"),
    "points_correction_filed": lazy("Correction to duty points requested"),
    "points_correction_resolved": lazy("Correction to duty points resolved"),
    # activities and sign-in
    "activity_created": lazy("Activity arranged"),
    "activity_rescheduled": lazy("Activity rescheduled"),
    "activity_cancelled": lazy("Activity cancelled"),
    "activity_edited": lazy("Activity details changed"),
    "activity_invited": lazy("Deputies invited to an activity"),
    "activity_uninvited": lazy("Invitation to an activity withdrawn"),
    "activity_recorded": lazy("Activity recorded as held"),
    "activity_photo_added": lazy("Photo added to an activity"),
    "signin_link": lazy("Deputy signed in with their personal link"),
    "signin_code": lazy("Deputy signed in by scanning the station's code"),
    "signin_on_behalf": lazy("Signed a deputy in on their behalf"),
    "signin_marks": lazy("Changed attendance marks"),
    "signin_removed": lazy("Removed a sign-in"),
    "signin_links_viewed": lazy("Viewed the personal sign-in links"),
    "activity_leave_asked": lazy("Deputy asked for leave from an activity"),
    "activity_leave_withdrawn": lazy("Deputy withdrew their leave from an activity"),
    "activity_absence_recorded": lazy("Recorded a deputy's reason for absence"),
    "activity_absence_cleared": lazy("Cleared a deputy's reason for absence"),
    "plan_created": lazy("Yearly activity plan started"),
    "plan_generated": lazy("Yearly activity plan filled from fixed days"),
    "plan_entry_added": lazy("Entry added to a yearly activity plan"),
    "plan_published": lazy("Yearly activity plan published"),
    "plan_note_saved": lazy("Yearly activity plan note saved"),
    "plan_holidays_moved": lazy("Yearly activity plan entries moved off public holidays"),
    "attendance_report_exported": lazy("Attendance report exported"),
    "suggestion_recorded": lazy("Suggestion recorded"),
    "opinion_registered": lazy("Opinion registered"),
    "activity_kind_saved": lazy("Activity kind saved"),
    "activity_kind_retired": lazy("Activity kind retired"),
    "rule_saved": lazy("Activity rule saved"),
    "rule_retired": lazy("Activity rule retired"),
    "compliance_exported": lazy("Compliance board exported"),
    # cases
    "case_registered": lazy("Case registered"),
    "case_register_exported": lazy("Register of opinions and suggestions exported"),
    "binder_register_exported": lazy("Register of the station binder exported"),
    "binder_exported": lazy("Station binder exported"),
    "binder_contacts_revealed": lazy("Voters' contact details shown in the station binder"),
    "binder_build_requested": lazy("Station binder asked to be prepared"),
    "deputy_reception_recorded": lazy("Reception of deputies recorded"),
    "deputy_reception_replied": lazy("Reply to a reception of deputies saved"),
    "presidium_member_added": lazy("Member added to a township presidium"),
    "presidium_member_changed": lazy("Township presidium member changed"),
    "presidium_member_removed": lazy("Member removed from a township presidium"),
    "presidium_contacts_set": lazy("Deputies a presidium member contacts saved"),
    "case_quarterly_exported": lazy("Quarterly list of issues exported"),
    "suggestions_exported": lazy("List of deputies' suggestions exported"),
    "case_classified": lazy("Case category and urgency set"),
    "case_answered_on_spot": lazy("Case answered on the spot"),
    "case_assigned": lazy("Case assigned to a handling unit"),
    "case_escalated": lazy("Case escalated to the county"),
    "case_forwarded": lazy("Case forwarded to the city or province"),
    "case_accepted": lazy("Case accepted by the handling unit"),
    "case_clarification_asked": lazy("Clarification asked on a case"),
    "case_clarified": lazy("Case clarified"),
    "case_replied": lazy("Case replied"),
    "case_fed_back": lazy("Answer of a case fed back"),
    "case_rated": lazy("Satisfaction recorded"),
    "case_rated_by_public": lazy("Satisfaction given by the person"),
    "case_sent_back": lazy("Case sent back for re-handling"),
    "case_supervised": lazy("Case supervised"),
    "case_to_suggestion": lazy("Case turned into a suggestion"),
    "case_merged": lazy("Case merged into another"),
    "case_mobile_revealed": lazy("Mobile number of a case revealed"),
    "case_photo_added": lazy("Photo added to a case"),
    "suggestion_assigned": lazy("Suggestion assigned to a unit"),
    "suggestion_answered": lazy("Suggestion answered"),
    "case_category_saved": lazy("Case category saved"),
    "case_category_retired": lazy("Case category retired"),
    "handling_unit_saved": lazy("Handling unit saved"),
    "handling_unit_retired": lazy("Handling unit retired"),
    "member_unit_set": lazy("Member given a handling unit"),
    "due_rule_added": lazy("Due-date rule added"),
    "due_rule_deleted": lazy("Due-date rule deleted"),
    "case_settings_saved": lazy("Case settings saved"),
    "mailbox_opened": lazy("Mailbox opening logged"),
    # notifications
    "notify_settings_saved": lazy("Notification settings saved"),
    "notifications_resent": lazy("Failed messages sent again"),
    "notification_unknown_resent": lazy("A message of unknown outcome sent again"),
    "notification_unknown_dropped": lazy("A message of unknown outcome dropped"),
    # joint stations (app/joint/agreements.py)
    "joint_proposed": lazy("Joint station proposed to other counties"),
    "joint_accepted": lazy("Joint station agreement accepted"),
    "joint_declined": lazy("Joint station agreement declined"),
    "joint_activated": lazy("Joint station set up"),
    "joint_withdrawn": lazy("County withdrew from a joint station"),
    "joint_archived": lazy("Joint station archived"),
    "joint_granted": lazy("Role in a joint station given"),
    "joint_revoked": lazy("Role in a joint station taken back"),
    "joint_deputies_joined": lazy("Deputies joined a joint station"),
    "joint_deputy_left": lazy("Deputy taken out of a joint station"),
    "joint_deputies_synced": lazy("Joint station's deputy profiles brought up to date"),
    # joint stations: referrals (app/joint/referrals.py)
    "joint_case_referred": lazy("Case referred from a joint station to a member county"),
    "joint_case_mirrored": lazy("Referred case's status mirrored to the joint station"),
    "joint_ledger_read": lazy("A member county read the joint station's figures"),
    "joint_case_passed_on": lazy("Joint station's feedback or rating passed on to the referred case"),
    "joint_attendance_rolled_up": lazy("Attendance at a joint station's activity recorded for the county's deputies"),
    "joint_reminders_relayed": lazy("Reminders of a joint station's activity written for the county's deputies"),
    "joint_reminders_withdrawn": lazy("Reminders of a joint station's activity withdrawn for the county's deputies"),
    # a county's data (app/data/exports.py)
    "county_data_export_requested": lazy("Export of all of the county's data asked for"),
    "county_data_exported": lazy("Export of all of the county's data prepared"),
    "county_data_exported_for_operator": lazy(
        "All of the county's data exported for the platform operator at the county's request"),
    "county_data_downloaded": lazy("All of the county's data downloaded, personal data in full"),
}
