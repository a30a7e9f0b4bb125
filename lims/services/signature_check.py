"""Is a signature still over the record as it is now? (Part 11 §11.70 record linking)."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session

from lims.models import Alert, Deviation, Product, QcResult, Signature, StepRecord
from lims.services.signatures import signature_status


def signature_state(session: Session, signature: Signature) -> str:
    return signature_status(signature,
                            lambda kind, key: _content(session, kind, key, signature))


def _content(session: Session, kind: str, key: str, signature: Signature) -> Any:
    from lims.services.deviations import deviation_content
    from lims.services.release import product_content
    from lims.services.steps import step_content

    if kind == "product":
        product = session.exec(_by_din(key)).first()
        return (product_content(session, product, as_of=signature.signed_at)
                if product else None)
    if kind == "step_record":
        record = session.get(StepRecord, int(key))
        return step_content(record) if record else None
    if kind == "deviation":
        deviation = session.get(Deviation, int(key))
        return deviation_content(deviation) if deviation else None
    if kind == "alert":
        alert = session.get(Alert, int(key))
        return {"alert": alert.id, "message": alert.message} if alert else None
    if kind == "qc_result":
        from lims.services.qc import qc_content

        result = session.get(QcResult, int(key))
        return {"id": result.id, **qc_content(result)} if result else None
    return None


def _by_din(din: str) -> Any:
    from sqlmodel import select

    return select(Product).where(Product.din == din)
