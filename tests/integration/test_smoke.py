from lims.audit import verify_chain
from tests.factories import make_product, seeded


def test_both_arms_run_from_enrolment_to_administration(session):
    run = seeded(session)
    cd133, _ = make_product(run, arm="CD133", until="administered")
    bm, _ = make_product(run, arm="BM-MNC", until="administered")
    assert (cd133.state, bm.state) == ("administered", "administered")
    assert verify_chain(session).ok
