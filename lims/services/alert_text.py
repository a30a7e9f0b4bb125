"""What an alert's e-mail says, in the lab's words. Pure text: nothing here reads or writes.

An e-mail leaves the hospital's systems: it names the product (DIN) and the trial subject
ID, never the patient's name, MRN or date of birth.
"""

from __future__ import annotations

from dataclasses import dataclass

from lims.models import Alert, Product
from workflows.roles import Role
from workflows.specifications import QC_TESTS
from workflows.words import state_words


@dataclass(frozen=True)
class AlertFacts:
    test: str  # the QC test's key, e.g. "sterility"
    value: str  # the result as recorded

    @property
    def test_label(self) -> str:
        known = QC_TESTS.get(self.test)
        return known.label if known is not None else self.test.replace("_", " ")


def alert_subject(alert: Alert, product: Product, facts: AlertFacts) -> str:
    if alert.severity == "clinical":
        return (f"URGENT: product already given - {facts.test_label} failed for "
                f"DIN {product.din}")
    return f"LIMS alert: {facts.test_label} failed after release of DIN {product.din}"


def alert_body(alert: Alert, product: Product, facts: AlertFacts, subject_id: str,
               role: str) -> str:
    lines = [
        f"{facts.test_label} result '{facts.value}' was recorded after the release of "
        f"product DIN {product.din} ({product.arm} arm, trial subject {subject_id}).",
        f"The product is now: {state_words(product.state)}.",
        "",
        _what_to_do(alert, role),
        "",
        f"Sign in to the LIMS and open product {product.din} to see the result; the alert "
        f"(no. {alert.id}, raised {alert.raised_at:%Y-%m-%d %H:%M} UTC) must be "
        "acknowledged there with your signature.",
        "",
        "This message was sent by the cell-processing LIMS. Do not reply.",
    ]
    return "\n".join(lines)


def _what_to_do(alert: Alert, role: str) -> str:
    if alert.severity == "clinical" and role == Role.PHYSICIAN:
        return ("The product has already been administered: assess the patient now and "
                "decide on treatment (e.g. cultures, antibiotics), then record your actions.")
    if alert.severity == "clinical":
        return ("The product has already been administered: make sure the treating physician "
                "has been reached and open a deviation for the investigation.")
    if role == Role.PHYSICIAN:
        return ("QA must decide on the product before it may be issued or given; do not "
                "administer it until QA has released it again.")
    return ("Decide on the product before it is issued or given: it may not be used until "
            "a signed QA decision.")
