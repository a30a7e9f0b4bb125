"""GET /audit/verify says what `lims audit verify` says: each problem with its place, what
was expected and what was found."""

from __future__ import annotations

from sqlalchemy import Engine, Table, select, update

from lims.models import Signature
from lims.services.verification import verify_all
from tests.api.conftest import product_in, refusal

SIGNATURES: Table = Signature.__table__  # type: ignore[attr-defined]


def test_the_verify_route_names_a_signature_whose_meaning_was_changed(api,
                                                                      owner_engine: Engine):
    # given a released product whose release signature is changed in its table (by the
    # owner: on PostgreSQL the application's role may not update signatures)
    product = product_in(api, "released", "BM-MNC")
    with owner_engine.begin() as conn:
        signature_id = conn.execute(select(SIGNATURES.c.id).where(
            SIGNATURES.c.product_id == product.id, SIGNATURES.c.meaning == "Released",
        )).scalar_one()
        conn.execute(update(SIGNATURES).where(SIGNATURES.c.id == signature_id)
                     .values(meaning="Rejected"))

    # when QA asks the API to verify the trail
    report = api.get("/audit/verify", user="qa1").json()

    # then it fails and names the signature, what was expected and what was found
    assert report["ok"] is False
    meaning = [p for p in report["problems"] if p["what"] == "meaning"]
    assert meaning == [{"where": f"signature {signature_id} (Rejected, product {product.din})",
                        "what": "meaning", "expected": meaning[0]["expected"],
                        "found": "Rejected"}]
    assert meaning[0]["expected"].startswith("Released (event ")
    # and the lines are the ones the command line prints
    api.session.close()
    assert report["lines"] == verify_all(api.session).lines
    assert [line for line in report["lines"] if line.startswith("BROKEN")] == [
        f"BROKEN: {p['where']}: {p['what']}: expected {p['expected']}; found {p['found']}"
        for p in report["problems"]]
    assert refusal(api.get("/audit/verify", user="tech1"), 403) == "forbidden"
