"""Coded domain errors shared by the workflows, the services, the CLI and the API.

Every refusal the lab can meet has a stable code, so a test, the API and the
UI talk about the same thing; the message is for the person at the bench.
"""

from __future__ import annotations

from enum import StrEnum

from workflows.characters import for_the_record


class ErrorCode(StrEnum):
    # state machine
    INVALID_TRANSITION = "invalid_transition"
    WRONG_ARM = "wrong_arm"
    STEP_DATA_INVALID = "step_data_invalid"
    LIMIT_REFUSED = "limit_refused"
    REAGENT_EXPIRED = "reagent_expired"
    REAGENT_UNKNOWN = "reagent_unknown"
    EQUIPMENT_OUT_OF_CALIBRATION = "equipment_out_of_calibration"
    EQUIPMENT_UNKNOWN = "equipment_unknown"
    PRODUCT_EXPIRED = "product_expired"
    PRODUCT_NOT_EXPIRED = "product_not_expired"
    IDENTITY_NOT_CONFIRMED = "identity_not_confirmed"
    WITNESS_REQUIRED = "witness_required"
    WITNESS_SAME_USER = "witness_same_user"
    QC_INCOMPLETE = "qc_incomplete"
    QC_FAILED = "qc_failed"
    DEVIATION_OPEN = "deviation_open"
    NOTHING_TO_EXCEPT = "nothing_to_except"
    PHYSICIAN_APPROVAL_REQUIRED = "physician_approval_required"
    SIGNATURE_INVALID = "signature_invalid"
    SIGNATURE_REQUIRED = "signature_required"  # a signed decision without its signature
    ALERT_ACKNOWLEDGED = "alert_already_acknowledged"
    NOT_INDEPENDENT = "not_independent"
    REASON_REQUIRED = "reason_required"
    NOT_HELD_FROM = "not_held_from"
    LABEL_NOT_VERIFIED = "label_not_verified"
    LABEL_REQUIRES_RELEASE = "label_requires_release"
    CERTIFICATE_REQUIRES_RELEASE = "certificate_requires_release"  # not (or no longer) released
    PRINTER_ERROR = "printer_error"
    PRINTER_WRONG_STOCK = "printer_wrong_stock"  # the label is not for the stock loaded
    RELEASE_SUSPENDED = "release_suspended"
    MATERIAL_WRONG_KIND = "material_wrong_kind"  # a lot of another material than the field's
    EQUIPMENT_WRONG_KIND = "equipment_wrong_kind"  # an instrument of another type
    REAGENT_NOT_RELEASED = "reagent_not_released"  # a lot in quarantine or rejected by QA
    TIME_IN_FUTURE = "time_in_future"  # ahead of the server's clock beyond the clock skew
    # QA review by exception (issue 13): each exception acknowledged before a release
    EXCEPTIONS_NOT_ACKNOWLEDGED = "exceptions_not_acknowledged"  # a release signed too early
    EXCEPTION_NOT_CURRENT = "exception_not_current"  # changed or resolved since it was shown
    COMMENT_REQUIRED = "comment_required"  # this kind of exception is acknowledged with one
    # chain of identity
    COI_BAD_SCAN = "coi_bad_scan"
    COI_UNKNOWN_DIN = "coi_unknown_din"
    COI_WRONG_DIN = "coi_wrong_din"
    COI_WRONG_PATIENT = "coi_wrong_patient"
    COI_WRONG_CONTAINER = "coi_wrong_container"
    COI_WRONG_STAGE = "coi_wrong_stage"
    COI_CONTAINER_REQUIRED = "coi_container_required"
    COI_SQUARE_CODE_REQUIRED = "coi_square_code_required"  # linear read or typed DIN
    COI_SUPERSEDED_LABEL = "coi_superseded_label"  # not the container's current label print
    # access and records
    FORBIDDEN = "forbidden"
    AUTHENTICATION_FAILED = "authentication_failed"
    ACCOUNT_LOCKED = "account_locked"
    NOT_FOUND = "not_found"
    ALREADY_EXISTS = "already_exists"
    CONFLICT = "conflict"
    INVALID_INPUT = "invalid_input"
    PATIENT_NOT_ELIGIBLE = "patient_not_eligible"
    TREATING_PHYSICIAN_INVALID = "treating_physician_invalid"
    DIN_INVALID = "din_invalid"  # a DIN in a URL or request that is not a whole valid DIN
    REQUEST_TOO_LARGE = "request_too_large"  # a request body over the configured size
    WITNESS_NOT_AUTHENTICATED = "witness_not_authenticated"  # the second person's password
    SIGNATURE_NOT_AUTHENTICATED = "signature_not_authenticated"  # a signer's password
    # passwords and sign-in (issue 12)
    SIGNIN_THROTTLED = "signin_throttled"  # too many failures: wait, then try again
    PASSWORD_REFUSED = "password_refused"  # a new password breaks the policy
    PASSWORD_NOT_AUTHENTICATED = "password_not_authenticated"  # the current one, re-entered
    PASSWORD_CHANGE_REQUIRED = "password_change_required"  # after an administrator's reset
    # scheduling (issue 16): a slot on the calendar that cannot be booked
    BOOKING_DOUBLE_BOOKED = "booking_double_booked"  # an instrument, room or person taken
    BOOKING_RESOURCE_UNAVAILABLE = "booking_resource_unavailable"  # room/instrument not free
    BOOKING_NO_QUALIFIED_STAFF = "booking_no_qualified_staff"  # nobody qualified on shift
    BOOKING_AFTER_EXPIRY = "booking_after_expiry"  # an infusion after the product expires
    BOOKING_BEFORE_READY = "booking_before_ready"  # an infusion before it can be released
    BOOKING_PROCESSING_WONT_FIT = "booking_processing_wont_fit"  # cannot process in time


class DomainError(Exception):
    """A refusal with a stable code; nothing was changed when it is raised."""

    def __init__(self, code: ErrorCode, detail: str) -> None:
        super().__init__(f"{code.value}: {detail}")
        self.code = code
        self.detail = detail


class TransitionRefused(DomainError):
    """The state machine refused a trigger (invalid from this state, or a guard failed)."""


class IdentityMismatch(DomainError):
    """A scanned label does not match what the step expects."""

    def __init__(self, code: ErrorCode, detail: str, *, scanned: str, expected: str) -> None:
        super().__init__(code, detail)
        self.scanned = scanned  # as read, whole; stored escaped and bounded
        self.expected = expected

    @property
    def scanned_shown(self) -> str:
        """What was scanned, as a person may be shown it: escaped and bounded."""
        return for_the_record(self.scanned, limit=200)


class NotFound(DomainError):
    def __init__(self, detail: str) -> None:
        super().__init__(ErrorCode.NOT_FOUND, detail)


class Conflict(DomainError):
    def __init__(self, detail: str) -> None:
        super().__init__(ErrorCode.CONFLICT, detail)


class Forbidden(DomainError):
    def __init__(self, detail: str) -> None:
        super().__init__(ErrorCode.FORBIDDEN, detail)


class InvalidInput(DomainError):
    def __init__(self, detail: str) -> None:
        super().__init__(ErrorCode.INVALID_INPUT, detail)
