"""Every kind of event the audit trail records: one enumeration, with its meaning in words.

The value is what `audit_event.action` holds (never change one: old events keep it); the
words are what an inspector reads in the export and the audit viewer. `PendingEvent` takes
only members, so a new kind of event is added here first.
"""

from __future__ import annotations

from enum import StrEnum


class AuditAction(StrEnum):
    # people and accounts
    USER_CREATED = "user_created"
    USER_UPDATED = "user_updated"
    SIGNIN_FAILED = "signin_failed"
    ACCOUNT_LOCKED = "account_locked"
    ACCOUNT_UNLOCKED = "account_unlocked"
    SIGNIN_THROTTLED = "signin_throttled"
    PASSWORD_CHANGED = "password_changed"
    PASSWORD_RESET = "password_reset"
    SIGNED_OUT = "signed_out"
    ACCOUNT_DEACTIVATED = "account_deactivated"
    ACCOUNT_REACTIVATED = "account_reactivated"
    USER_ROLE_CHANGED = "user_role_changed"  # old → new role, with reason
    # trial set-up and master data
    PROTOCOL_CREATED = "protocol_created"
    SPECIFICATION_CREATED = "specification_created"
    SPECIFICATION_CHANGED = "specification_changed"
    SPECIFICATION_DRAFTED = "specification_drafted"  # a new version, not in force
    SPECIFICATION_APPROVED = "specification_approved"  # QA's signature; effective from
    SPECIFICATION_WITHDRAWN = "specification_withdrawn"  # a draft never to take effect
    REAGENT_LOT_REGISTERED = "reagent_lot_registered"
    REAGENT_LOT_MATERIAL_RECORDED = "reagent_lot_material_recorded"
    EQUIPMENT_REGISTERED = "equipment_registered"
    REAGENT_LOT_STATUS_CHANGED = "reagent_lot_status_changed"  # released or rejected by QA
    EQUIPMENT_CALIBRATION_RECORDED = "equipment_calibration_recorded"  # new due date
    PRINTER_REGISTERED = "printer_registered"  # a label printer: host, port, stock
    PRINTER_CHANGED = "printer_changed"  # its place, address or label stock
    PRINTER_DEACTIVATED = "printer_deactivated"  # no longer offered for printing
    PRINTER_REACTIVATED = "printer_reactivated"
    # patients, products and containers
    PATIENT_ENROLLED = "patient_enrolled"
    # an identified FHIR export (name, MRN, date of birth): who, which patient, through what
    PATIENT_IDENTITY_DISCLOSED = "patient_identity_disclosed"
    PRODUCT_CREATED = "product_created"
    CONTAINER_CREATED = "container_created"
    STATE_CHANGED = "state_changed"
    STEP_RECORDED = "step_recorded"
    STEP_CORRECTED = "step_corrected"  # a new record of a step replaces its earlier record
    STEP_VALUE_CORRECTED = "step_value_corrected"  # one value of it: old → new, with reason
    LIMIT_WARNING = "limit_warning"
    INPUT_CARRIED_FORWARD = "input_carried_forward"
    COI_MISMATCH = "coi_mismatch"
    # storage (issue 16): locations, containers scanned into a position and out again
    STORAGE_LOCATION_CREATED = "storage_location_created"  # with its range, a box its grid
    # taken out of use with everything under it (each its own event), or back in use
    STORAGE_LOCATION_DEACTIVATED = "storage_location_deactivated"
    STORAGE_LOCATION_REACTIVATED = "storage_location_reactivated"
    CONTAINER_STORED = "container_stored"  # scanned into a position
    CONTAINER_REMOVED_FROM_STORAGE = "container_removed_from_storage"  # with the reason
    # scheduling (issue 16): resources, shifts and the calendar's bookings
    RESOURCE_REGISTERED = "resource_registered"  # an instrument, room or staff member
    RESOURCE_CHANGED = "resource_changed"  # qualifications, or in / out of use, with reason
    SHIFT_ADDED = "shift_added"  # on shift (staff) or available (room, instrument)
    SHIFT_CANCELLED = "shift_cancelled"  # with the reason
    BOOKING_MADE = "booking_made"  # a harvest, processing or infusion slot
    BOOKING_REFUSED = "booking_refused"  # with the rule and the reason in words
    BOOKING_CANCELLED = "booking_cancelled"  # with the reason
    BOOKING_DONE = "booking_done"
    # labels
    LABEL_PRINTED = "label_printed"
    LABEL_REPRINTED = "label_reprinted"
    LABEL_VERIFIED = "label_verified"
    LABEL_VERIFICATION_RESET = "label_verification_reset"
    LABEL_SUPERSEDED = "label_superseded"  # a correction changed what a printed label says
    # quality control, signatures, deviations and alerts
    QC_RESULT = "qc_result"
    QC_CORRECTED = "qc_corrected"
    QC_VERIFIED = "qc_verified"
    QC_REJUDGED = "qc_rejudged"  # judged again on corrected formulation figures
    SIGNED = "signed"
    DEVIATION_RAISED = "deviation_raised"
    DEVIATION_CLOSED = "deviation_closed"
    ALERT_RAISED = "alert_raised"
    REVIEW_EXCEPTION_ACKNOWLEDGED = "review_exception_acknowledged"  # by QA, before release
    CERTIFICATE_ISSUED = "certificate_issued"  # a certificate of analysis generated: its hash
    CERTIFICATE_REFUSED = "certificate_refused"  # asked for a product not (or no longer) released
    # notifications
    NOTIFICATION_QUEUED = "notification_queued"
    NOTIFICATION_SENT = "notification_sent"
    NOTIFICATION_RETRY = "notification_retry"
    NOTIFICATION_FAILED = "notification_failed"
    NOTIFICATION_RESENT = "notification_resent"
    # clinical follow-up after administration (issue 15)
    FOLLOW_UP_SCHEDULED = "follow_up_scheduled"  # an administration's visit schedule
    FOLLOW_UP_VISIT_RECORDED = "follow_up_visit_recorded"  # a visit done, by the physician
    LAB_VALUE_RECORDED = "lab_value_recorded"  # as entered and in the canonical unit
    LAB_VALUE_CORRECTED = "lab_value_corrected"  # a new value replaces one, with reason
    CLINICAL_FINDING_RECORDED = "clinical_finding_recorded"  # ascites, encephalopathy
    CLINICAL_FINDING_CORRECTED = "clinical_finding_corrected"  # with reason
    ADVERSE_EVENT_REPORTED = "adverse_event_reported"  # grade, serious, relatedness
    ADVERSE_EVENT_UPDATED = "adverse_event_updated"  # one field old → new, with reason
    CLINICAL_EVENT_RECORDED = "clinical_event_recorded"  # transplant, HCC or death
    CLINICAL_EVENT_CORRECTED = "clinical_event_corrected"  # new date or withdrawn, reason
    FOLLOW_UP_REFUSED = "follow_up_refused"  # a clinical record refused, with the reason
    # storage temperatures (issue 16): monitoring devices, readings, excursions
    TEMPERATURE_DEVICE_REGISTERED = "temperature_device_registered"  # probe → location
    TEMPERATURE_FILE_IMPORTED = "temperature_file_imported"  # with the file's SHA-256
    TEMPERATURE_FILE_REFUSED = "temperature_file_refused"  # nothing recorded; lines named
    TEMPERATURE_READING_ENTERED = "temperature_reading_entered"  # typed by hand
    TEMPERATURE_EXCURSION_RAISED = "temperature_excursion_raised"
    TEMPERATURE_EXCURSION_CHANGED = "temperature_excursion_changed"  # ended, or widened
    TEMPERATURE_EXCURSION_ACKNOWLEDGED = "temperature_excursion_acknowledged"  # QA, comment

    @property
    def words(self) -> str:
        """What happened, as an inspector reads it."""
        return WORDS[self]


# Written only by earlier versions (accounts were locked before sign-in throttling; a
# specification change took effect at once before drafts were approved); kept so trails
# that hold them still read and reconcile.
LEGACY: frozenset[AuditAction] = frozenset({AuditAction.ACCOUNT_LOCKED,
                                            AuditAction.SPECIFICATION_CHANGED})


WORDS: dict[AuditAction, str] = {
    AuditAction.USER_CREATED: "user account created",
    AuditAction.USER_UPDATED: "user account changed",
    AuditAction.SIGNIN_FAILED: "failed sign-in",
    AuditAction.ACCOUNT_LOCKED: "account locked",
    AuditAction.ACCOUNT_UNLOCKED: "account unlocked",
    AuditAction.SIGNIN_THROTTLED: "sign-in paused after repeated failures",
    AuditAction.PASSWORD_CHANGED: "password changed by its owner (every session ended)",
    AuditAction.PASSWORD_RESET: "temporary password set by an administrator",
    AuditAction.SIGNED_OUT: "signed out (every session ended)",
    AuditAction.ACCOUNT_DEACTIVATED: "account deactivated (every session ended)",
    AuditAction.ACCOUNT_REACTIVATED: "account reactivated",
    AuditAction.USER_ROLE_CHANGED: "role of a user account changed (every session ended)",
    AuditAction.PROTOCOL_CREATED: "trial protocol created",
    AuditAction.SPECIFICATION_CREATED: "specification created",
    AuditAction.SPECIFICATION_CHANGED: "specification changed",
    AuditAction.SPECIFICATION_DRAFTED: "specification version drafted (no effect until QA "
                                       "approves it)",
    AuditAction.SPECIFICATION_APPROVED: "specification version approved by QA's signature",
    AuditAction.SPECIFICATION_WITHDRAWN: "draft specification version withdrawn",
    AuditAction.REAGENT_LOT_REGISTERED: "reagent lot registered",
    AuditAction.REAGENT_LOT_MATERIAL_RECORDED: "material of a reagent lot recorded",
    AuditAction.EQUIPMENT_REGISTERED: "equipment registered",
    AuditAction.REAGENT_LOT_STATUS_CHANGED: "reagent lot released or rejected by QA",
    AuditAction.EQUIPMENT_CALIBRATION_RECORDED: "equipment calibration recorded (new due date)",
    AuditAction.PRINTER_REGISTERED: "label printer registered",
    AuditAction.PRINTER_CHANGED: "label printer changed (place, address or label stock)",
    AuditAction.PRINTER_DEACTIVATED: "label printer taken out of use",
    AuditAction.PRINTER_REACTIVATED: "label printer back in use",
    AuditAction.PATIENT_ENROLLED: "patient enrolled",
    AuditAction.PATIENT_IDENTITY_DISCLOSED: "patient's name, MRN and date of birth disclosed "
                                            "in an identified FHIR export",
    AuditAction.PRODUCT_CREATED: "product created (harvest scheduled)",
    AuditAction.CONTAINER_CREATED: "container created",
    AuditAction.STATE_CHANGED: "product state changed",
    AuditAction.STEP_RECORDED: "process step recorded",
    AuditAction.STEP_CORRECTED: "process step record corrected",
    AuditAction.STEP_VALUE_CORRECTED: "value of a process step corrected",
    AuditAction.LIMIT_WARNING: "value outside its warning limit",
    AuditAction.INPUT_CARRIED_FORWARD: "input carried forward from the previous step",
    AuditAction.COI_MISMATCH: "chain-of-identity scan refused",
    AuditAction.STORAGE_LOCATION_CREATED: "storage location created",
    AuditAction.STORAGE_LOCATION_DEACTIVATED: "storage location taken out of use, with the "
                                              "reason",
    AuditAction.STORAGE_LOCATION_REACTIVATED: "storage location back in use, with the reason",
    AuditAction.CONTAINER_STORED: "container scanned into a storage position",
    AuditAction.CONTAINER_REMOVED_FROM_STORAGE: "container taken out of storage, with the "
                                                "reason",
    AuditAction.RESOURCE_REGISTERED: "calendar resource registered (instrument, room or "
                                     "staff)",
    AuditAction.RESOURCE_CHANGED: "calendar resource changed (qualifications or in use)",
    AuditAction.SHIFT_ADDED: "shift or availability added to the calendar",
    AuditAction.SHIFT_CANCELLED: "shift or availability cancelled",
    AuditAction.BOOKING_MADE: "slot booked on the calendar",
    AuditAction.BOOKING_REFUSED: "booking refused by the calendar, with the reason",
    AuditAction.BOOKING_CANCELLED: "booking cancelled, with the reason",
    AuditAction.BOOKING_DONE: "booking marked done",
    AuditAction.LABEL_PRINTED: "label printed",
    AuditAction.LABEL_REPRINTED: "label reprinted",
    AuditAction.LABEL_VERIFIED: "label scanned back and verified",
    AuditAction.LABEL_VERIFICATION_RESET: "label verification reset by a new print",
    AuditAction.LABEL_SUPERSEDED: "printed label superseded by a step correction",
    AuditAction.QC_RESULT: "QC result entered",
    AuditAction.QC_CORRECTED: "QC result corrected",
    AuditAction.QC_VERIFIED: "QC correction verified",
    AuditAction.QC_REJUDGED: "QC result judged again after a step correction",
    AuditAction.SIGNED: "electronic signature applied",
    AuditAction.DEVIATION_RAISED: "deviation raised",
    AuditAction.DEVIATION_CLOSED: "deviation closed",
    AuditAction.ALERT_RAISED: "alert raised",
    AuditAction.REVIEW_EXCEPTION_ACKNOWLEDGED: "exception of the QA review acknowledged",
    AuditAction.CERTIFICATE_ISSUED: "certificate of analysis generated",
    AuditAction.CERTIFICATE_REFUSED: "certificate of analysis refused (product not released)",
    AuditAction.NOTIFICATION_QUEUED: "notification queued",
    AuditAction.NOTIFICATION_SENT: "notification sent",
    AuditAction.NOTIFICATION_RETRY: "notification not delivered, retry scheduled",
    AuditAction.NOTIFICATION_FAILED: "notification given up after its last attempt",
    AuditAction.NOTIFICATION_RESENT: "notification sent again",
    AuditAction.FOLLOW_UP_SCHEDULED: "follow-up visits scheduled after an administration",
    AuditAction.FOLLOW_UP_VISIT_RECORDED: "follow-up visit recorded",
    AuditAction.LAB_VALUE_RECORDED: "laboratory value recorded",
    AuditAction.LAB_VALUE_CORRECTED: "laboratory value corrected",
    AuditAction.CLINICAL_FINDING_RECORDED: "clinical findings recorded (ascites, "
                                           "encephalopathy)",
    AuditAction.CLINICAL_FINDING_CORRECTED: "clinical findings corrected",
    AuditAction.ADVERSE_EVENT_REPORTED: "adverse event reported",
    AuditAction.ADVERSE_EVENT_UPDATED: "adverse event updated",
    AuditAction.CLINICAL_EVENT_RECORDED: "clinical event recorded (transplant, HCC or "
                                         "death)",
    AuditAction.CLINICAL_EVENT_CORRECTED: "clinical event corrected or withdrawn",
    AuditAction.FOLLOW_UP_REFUSED: "clinical follow-up record refused",
    AuditAction.TEMPERATURE_DEVICE_REGISTERED: "temperature probe assigned to a storage "
                                               "location",
    AuditAction.TEMPERATURE_FILE_IMPORTED: "temperature monitoring file imported",
    AuditAction.TEMPERATURE_FILE_REFUSED: "temperature monitoring file refused, nothing "
                                          "recorded",
    AuditAction.TEMPERATURE_READING_ENTERED: "temperature reading entered by hand",
    AuditAction.TEMPERATURE_EXCURSION_RAISED: "temperature excursion raised",
    AuditAction.TEMPERATURE_EXCURSION_CHANGED: "temperature excursion ended or widened",
    AuditAction.TEMPERATURE_EXCURSION_ACKNOWLEDGED: "temperature excursion acknowledged by "
                                                    "QA",
}


def action_words(action: str) -> str:
    """The words for a stored action; an unknown one (not written by this system) as it is."""
    try:
        return AuditAction(action).words
    except ValueError:
        return f"unknown action {action!r}"
