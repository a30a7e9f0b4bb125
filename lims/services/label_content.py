"""What a container's label says: the one place that maps a container to its `Label`.

Read-only: nothing here writes. `lims.services.labels` prints (and records) what
`build_label` returns; the demo and the tests render the same `Label`.

Wordings that are configuration, not law, are marked: the product descriptions
follow ISBT 128 class | attribute style but the exact ST-002 terminology is
[UNVERIFIED] (standards.md §1.4), and the product codes of the seed are placeholders.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from sqlalchemy import Table, bindparam
from sqlalchemy import select as core_select
from sqlmodel import Session, col, select

from labels import DEFAULT_TEXTS, IssueRecord, Label, LabelKind, LabelTexts
from lims.config import get_settings
from lims.models import Container, Patient, PrintJob, Product, Protocol, StepRecord, User
from lims.prepared import Prepared
from lims.services import label_facts as facts
from lims.services.common import din_text, get_or_404, parameters_of, patient_of
from lims.services.step_store import drawn_volumes
from workflows.errors import InvalidInput, NotFound
from workflows.identity import KIND_LABELS, ContainerKind
from workflows.isbt128 import parse_din, parse_product_code
from workflows.numbers import format_number
from workflows.product import Arm, ProductState
from workflows.protocol import ProtocolParameters
from workflows.registry import LABEL, entry, format_figure
from workflows.words import label_kind_words

K = ContainerKind
S = ProductState
TEXTS: Final[LabelTexts] = DEFAULT_TEXTS

# Class | attributes, as `labels` prints them. [UNVERIFIED] ST-002 terminology.
_DESCRIPTION: Final[Mapping[ContainerKind, str]] = {
    K.MARROW_BAG: "HPC, MARROW",
    K.RBC_REDUCED: "HPC, MARROW | RBC reduced",
    K.MNC: "MNC, MARROW | Ficoll density gradient",
    K.CD133_TARGET: "HPC, MARROW | CD133 enriched",
    K.CD133_NEGATIVE: "HPC, MARROW | CD133 depleted",
}
# What the container is, short enough for the in-process label's container line.
_CONTAINER: Final[Mapping[ContainerKind, str]] = {
    K.MARROW_BAG: "Marrow bag",
    K.RBC_REDUCED: "RBC-reduced bag",
    K.MNC: "MNC container",
    K.CD133_TARGET: "CD133+ target",
    K.CD133_NEGATIVE: "CD133 negative",
    K.FINAL_PRODUCT: "Final product",
}
_FINAL_DESCRIPTION: Final[Mapping[str, str]] = {
    Arm.CD133: "HPC, MARROW | CD133 enriched",
    Arm.BM_MNC: "MNC, MARROW | Ficoll density gradient",
}
_LABEL_KIND: Final[Mapping[ContainerKind, LabelKind]] = {
    K.MARROW_BAG: LabelKind.COLLECTION,
    K.RBC_REDUCED: LabelKind.IN_PROCESS,
    K.MNC: LabelKind.IN_PROCESS,
    K.CD133_TARGET: LabelKind.IN_PROCESS,
    K.CD133_NEGATIVE: LabelKind.IN_PROCESS,
    K.QC_SAMPLE: LabelKind.QC_SAMPLE,
    K.RETENTION_SAMPLE: LabelKind.QC_SAMPLE,  # the same small tube label
}
# ISBT 128 Table 3: 07 test tube, 10 samples for bacterial testing; 21.. are local (Type 2).
_QC_PURPOSE: Final[Mapping[str, str]] = {"07": "QC sample (test tube)",
                                         "10": "QC sample (sterility)"}
RELEASED_STATES: Final = frozenset({S.RELEASED, S.ISSUED, S.ADMINISTERED})
ISSUED_STATES: Final = frozenset({S.ISSUED, S.ADMINISTERED})
FINAL_KINDS: Final = frozenset({LabelKind.FINAL, LabelKind.ISSUE})
_P: Table = Product.__table__  # type: ignore[attr-defined]
_C: Table = Container.__table__  # type: ignore[attr-defined]
_J: Table = PrintJob.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class LabelSubject:
    """Everything a label is made from, loaded once."""

    product: Product
    container: Container
    patient: Patient
    params: ProtocolParameters
    steps: Mapping[str, StepRecord]
    trial: str = ""  # the protocol's code, e.g. the registry number NCT00713934
    # Volume the container gave to its QC samples since it was filled (lims.services.
    # step_store.drawn_volumes): the label states what is left in it, not what was put in.
    drawn_ml: float = 0.0

    @property
    def volume_left_ml(self) -> float | None:
        filled = self.container.volume_ml
        return None if filled is None else max(filled - self.drawn_ml, 0.0)

    @property
    def fraction_left(self) -> float:
        """Share of the filled cells still in the container (cells go with the volume)."""
        filled, left = self.container.volume_ml, self.volume_left_ml
        return 1.0 if not filled or left is None else left / filled

    @property
    def state(self) -> str:
        """The product's state, or the state it was held from (a held product keeps its label)."""
        if self.product.state == S.ON_HOLD and self.product.held_from:
            return self.product.held_from
        return self.product.state

    @property
    def released(self) -> bool:
        return self.state in RELEASED_STATES


def load_product(session: Session, din: str) -> Product:
    """The product as the database holds it now, detached from the session.

    Read through Core, like the step hot path writes: refreshing the session's own
    instances would change objects the caller still holds (e.g. an expected version).
    """
    row = session.connection().execute(
        core_select(_P).where(_P.c.din == din_text(din))).mappings().first()
    if row is None:
        raise NotFound(f"no product with DIN {din}")
    return Product(**row)


def load_containers(session: Session, product_id: int, *,
                    container_id: int | None = None) -> list[Container]:
    """The product's containers (or the one with `container_id`), detached, in id order."""
    query = core_select(_C).where(_C.c.product_id == product_id).order_by(_C.c.id)
    if container_id is not None:
        query = query.where(_C.c.id == container_id)
    return [Container(**row) for row in session.connection().execute(query).mappings()]


def load_subject(session: Session, *, din: str, container_id: int) -> LabelSubject:
    product = load_product(session, din)
    assert product.id is not None
    found = load_containers(session, product.id, container_id=container_id)
    container = found[0] if found else None
    if container is None:
        raise InvalidInput(f"container {container_id} is not a container of DIN {product.din}")
    records = session.exec(select(StepRecord).where(StepRecord.product_id == product.id,
                                                    col(StepRecord.superseded).is_(False))
                           .order_by(col(StepRecord.id))).all()
    drawn = drawn_volumes(session.connection(), product.id).get(ContainerKind(container.kind), 0.0)
    return LabelSubject(product=product, container=container, patient=patient_of(session, product),
                        params=parameters_of(session, product.protocol_id),
                        steps={r.step: r for r in records},  # the latest record of each step
                        trial=get_or_404(session, Protocol, product.protocol_id, "protocol").code,
                        drawn_ml=drawn)


def label_kind_for(subject: LabelSubject) -> LabelKind:
    """The label a container carries now (see `current_label_kind`)."""
    return current_label_kind(ContainerKind(subject.container.kind), subject.state,
                              subject.params)


def current_label_kind(kind: ContainerKind, state: str,
                       params: ProtocolParameters) -> LabelKind:
    """The label a container of `kind` carries while its product is in `state`.

    Before QA release the final product wears an in-process label when the protocol
    forbids a final label before release; the final label follows release and the
    issue label follows issue.
    """
    if kind is K.MARROW_BAG:  # printed blank before the harvest, again with its facts after
        return LabelKind.COLLECTION if state == S.SCHEDULED else LabelKind.HARVEST
    if kind is not K.FINAL_PRODUCT:
        return _LABEL_KIND[kind]
    if state in ISSUED_STATES:
        return LabelKind.ISSUE
    if state in RELEASED_STATES or not params.final_label_requires_release:
        return LabelKind.FINAL
    return LabelKind.IN_PROCESS


def last_printed_kind(session: Session, container_id: int) -> LabelKind | None:
    """The kind of the label printed last for the container, or None if none was."""
    kind = _LAST_PRINTED.scalar(session.connection(), {"cid": container_id})
    return LabelKind(kind) if kind is not None else None


# Built once: a step's identity check asks it on every scan of a bag or final product.
_LAST_PRINTED = Prepared(core_select(_J.c.label_kind).where(_J.c.container_id == bindparam("cid"))
                         .order_by(_J.c.id.desc()).limit(1))


def allowed_kinds(subject: LabelSubject) -> frozenset[LabelKind]:
    """Label kinds that may be asked for explicitly (only the final product has a choice)."""
    if subject.container.kind == K.FINAL_PRODUCT:
        return frozenset({LabelKind.IN_PROCESS, LabelKind.FINAL, LabelKind.ISSUE})
    return frozenset({label_kind_for(subject)})


def build_label(session: Session, *, din: str, container_id: int, reprint: bool = False,
                kind: LabelKind | None = None) -> Label:
    """The label of container `container_id` of product `din` (`kind`: None = as it is now)."""
    subject = load_subject(session, din=din, container_id=container_id)
    chosen = resolve_kind(subject, kind)
    return label_of(subject, chosen, reprint=reprint, issued_by=issued_by(session, subject, chosen))


def issued_by(session: Session, subject: LabelSubject, kind: LabelKind) -> str | None:
    """Who issued the product (printed on the issue label), if it has been issued."""
    issue = subject.steps.get("issue")
    if kind is not LabelKind.ISSUE or issue is None:
        return None
    return get_or_404(session, User, issue.operator_id, "user").full_name


def resolve_kind(subject: LabelSubject, kind: LabelKind | str | None) -> LabelKind:
    if kind is None:
        return label_kind_for(subject)
    chosen = LabelKind(kind)
    if chosen not in allowed_kinds(subject):
        allowed = " or ".join(_a(label_kind_words(k)) for k in sorted(allowed_kinds(subject)))
        raise InvalidInput(f"a {KIND_LABELS[ContainerKind(subject.container.kind)]} carries "
                           f"{allowed}, not {_a(label_kind_words(chosen))}")
    return chosen


def _a(words: str) -> str:
    """"in-process label" -> "an in-process label"."""
    return f"{'an' if words[:1] in ('a', 'e', 'i', 'o', 'u') else 'a'} {words}"


def label_of(subject: LabelSubject, kind: LabelKind, *, reprint: bool = False,
             issued_by: str | None = None, print_serial: int | None = None) -> Label:
    settings = get_settings()
    product, container, patient = subject.product, subject.container, subject.patient
    container_kind = ContainerKind(container.kind)
    harvest = subject.steps.get("harvest")
    statements, biohazard = facts.statements(subject)
    return Label(
        kind=kind,
        din=parse_din(product.din),
        product_code=parse_product_code(container.product_code),
        product_description=facts.description(subject, kind,
                                              _description(container_kind, product.arm)),
        time_zone=settings.time_zone,
        patient_name=patient.name,
        patient_identifiers=(("MRN", patient.mrn), ("DOB", patient.date_of_birth.isoformat())),
        subject_id=patient.subject_id,
        processing_facility=(settings.facility_name, settings.facility_address),
        collection_facility=_collection_facility(harvest, settings.facility_name),
        container_label=_container_label(container, subject.steps.get("formulate")),
        flags=container.flags,
        collection_at=product.harvest_end,
        expires_at=product.expires_at,
        volume_ml=subject.volume_left_ml,
        anticoagulant=facts.anticoagulant(harvest),
        storage_temperature=facts.storage(subject),
        dose_text=(_dose_text(subject) if container_kind is K.FINAL_PRODUCT
                   and not facts.blinded(subject, kind) else None),
        statements=statements,
        markings=facts.markings(subject, kind, biohazard=biohazard),
        print_serial=print_serial,
        reprint=reprint,
        placeholder_codes=True,  # the seed's 'D' codes are not ICCBBA-assigned
        issue=_issue_record(subject, issued_by) if kind is LabelKind.ISSUE else None,
    )


def _description(kind: ContainerKind, arm: str) -> str:
    if kind in (K.FINAL_PRODUCT, K.QC_SAMPLE, K.RETENTION_SAMPLE):
        return _FINAL_DESCRIPTION[arm]
    return _DESCRIPTION[kind]


def _container_label(container: Container, formulate: StepRecord | None) -> str:
    kind = ContainerKind(container.kind)
    if kind is K.QC_SAMPLE:
        return _QC_PURPOSE.get(container.flags, f"QC sample {container.flags}")
    if kind is K.RETENTION_SAMPLE:
        return f"Retention sample {container.flags}"
    if kind is K.FINAL_PRODUCT and formulate is not None:
        vessel = str(formulate.values.get("container_type") or "").strip()
        if vessel:
            return f"Final {vessel}"[:24]
    return _CONTAINER[kind]


def _collection_facility(harvest: StepRecord | None, facility: str) -> str:
    room = str(harvest.values.get("operating_room") or "").strip() if harvest else ""
    return f"Operating room {room}, {facility}" if room else facility


def _dose_text(subject: LabelSubject) -> str | None:
    formulate = subject.steps.get("formulate")
    if formulate is None:
        return None
    dose, per_kg = formulate.computed.get("viable_dose"), formulate.computed.get("dose_per_kg")
    if not isinstance(dose, int | float):
        return None
    # The dose in the container: the formulated dose less what the QC samples took with them.
    dose = float(dose) * subject.fraction_left
    per_kg = float(per_kg) * subject.fraction_left if isinstance(per_kg, int | float) else None
    cells = "viable CD133+ cells" if subject.product.arm == Arm.CD133 else "viable MNC"
    # One format (workflows.registry): "4.20 × 10⁶ viable CD133+ cells (0.0600 × 10⁶ cells/kg)";
    # the label's DejaVu face has the superscript digits, ZPL draws them (labels.zpl).
    text = f"{format_number(float(dose), entry(LABEL, 'viable_dose').unit)} {cells}"
    if isinstance(per_kg, int | float):
        text += f" ({format_figure(LABEL, 'dose_per_kg', float(per_kg))})"
    return text


def _issue_record(subject: LabelSubject, issued_by: str | None) -> IssueRecord:
    issue = subject.steps.get("issue")
    if issue is None:
        return IssueRecord()  # blanks to fill in by hand
    text = issue.values.get("time_issued")
    issued_at = datetime.fromisoformat(text) if isinstance(text, str) else None
    return IssueRecord(
        issued_at=issued_at if issued_at and issued_at.utcoffset() is not None else None,
        issued_by=issued_by,
        destination=None,
        transport=str(issue.values.get("transport_conditions") or "") or None,
    )
