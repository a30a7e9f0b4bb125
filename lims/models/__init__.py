"""All tables, imported in one place so Alembic sees the whole metadata."""

from lims.models.people import Patient, SigninThrottle, User
from lims.models.product import Container, DinSequence, Product, QcResult, Signature, StepRecord
from lims.models.protocol import Equipment, Protocol, ProtocolArm, ReagentLot
from lims.models.quality import (
    Alert,
    Deviation,
    FormDraft,
    Job,
    Notification,
    Printer,
    PrintJob,
    ReviewAcknowledgement,
    SpecificationSet,
)
from lims.models.records import AuditEvent, AuditHead, CoiEvent

__all__ = [
    "Alert",
    "AuditEvent",
    "AuditHead",
    "CoiEvent",
    "Container",
    "Deviation",
    "DinSequence",
    "Equipment",
    "FormDraft",
    "Job",
    "Notification",
    "Patient",
    "PrintJob",
    "Printer",
    "Product",
    "Protocol",
    "ProtocolArm",
    "QcResult",
    "ReagentLot",
    "ReviewAcknowledgement",
    "Signature",
    "SigninThrottle",
    "SpecificationSet",
    "StepRecord",
    "User",
]
