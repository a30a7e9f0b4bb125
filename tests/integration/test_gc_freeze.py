"""A serving process freezes what it loaded at start-up out of the collector's reach
(LIMS_GC_FREEZE_AT_START, lims/app.py): the QA queue's p99 had 150–200 ms full
collections walking every module, route and template."""

from __future__ import annotations

import gc

import pytest
from fastapi.testclient import TestClient

from lims.app import create_app
from lims.config import get_settings


@pytest.mark.parametrize(("setting", "frozen"), [("true", True), ("false", False)])
def test_the_application_freezes_its_start_up_objects_when_told(engine, monkeypatch,
                                                                 setting, frozen):
    monkeypatch.setenv("LIMS_GC_FREEZE_AT_START", setting)
    get_settings.cache_clear()
    gc.unfreeze()
    try:
        with TestClient(create_app(engine, jobs=False)) as client:
            assert client.get("/api/v1/openapi.json").status_code == 200
            assert (gc.get_freeze_count() > 0) is frozen
    finally:
        gc.unfreeze()  # the test process builds many more applications
        get_settings.cache_clear()
