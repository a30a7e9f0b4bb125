"""Eight harvests scheduled over HTTP at once as the first of the facility's year."""

from __future__ import annotations

import threading

import httpx
from sqlmodel import select

from lims.models import DinSequence
from tests.api.conftest import Api
from tests.factories import make_patient

HARVESTS = 8


def test_eight_first_harvests_of_the_year_over_http_at_once_all_succeed(api: Api):
    # given eight enrolled patients and no DIN issued yet this year
    subjects = [make_patient(api.run, "BM-MNC").subject_id for _ in range(HARVESTS)]
    assert api.session.exec(select(DinSequence)).all() == []
    headers = api.headers("tech1")
    api.session.commit()
    barrier = threading.Barrier(HARVESTS)
    responses: list[httpx.Response] = []

    def schedule(subject_id: str) -> None:
        barrier.wait(timeout=30)
        responses.append(api.client.post("/api/v1/harvests", headers=headers,
                                         json={"subject_id": subject_id}))

    # when the eight requests arrive at the same moment
    threads = [threading.Thread(target=schedule, args=(s,)) for s in subjects]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    # then each was answered 201 with a DIN of its own
    assert [r.status_code for r in responses] == [201] * HARVESTS, [r.text for r in responses]
    dins = {r.json()["din"] for r in responses}
    assert len(dins) == HARVESTS
    assert sorted(int(din[7:13]) for din in dins) == list(range(1, HARVESTS + 1))
