"""All tables, imported in one place so Alembic sees the whole metadata."""

from lims.models.certificate import Certificate
from lims.models.follow_up import (
    AdverseEvent,
    ClinicalEvent,
    ClinicalFinding,
    FollowUpVisit,
    LabValue,
)
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
from lims.models.scheduling import Booking, BookingResource, Resource, ResourceShift
from lims.models.storage import ContainerStorage, StorageLocation
from lims.models.temperature import (
    ExcursionContainer,
    TemperatureDevice,
    TemperatureExcursion,
    TemperatureReading,
)

__all__ = [
    "AdverseEvent",
    "Alert",
    "AuditEvent",
    "AuditHead",
    "Booking",
    "BookingResource",
    "Certificate",
    "ClinicalEvent",
    "ClinicalFinding",
    "CoiEvent",
    "Container",
    "ContainerStorage",
    "Deviation",
    "DinSequence",
    "Equipment",
    "ExcursionContainer",
    "FollowUpVisit",
    "FormDraft",
    "Job",
    "LabValue",
    "Notification",
    "Patient",
    "PrintJob",
    "Printer",
    "Product",
    "Protocol",
    "ProtocolArm",
    "QcResult",
    "ReagentLot",
    "Resource",
    "ResourceShift",
    "ReviewAcknowledgement",
    "Signature",
    "SigninThrottle",
    "SpecificationSet",
    "StepRecord",
    "StorageLocation",
    "TemperatureDevice",
    "TemperatureExcursion",
    "TemperatureReading",
    "User",
]
