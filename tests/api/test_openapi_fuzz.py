"""Schemathesis against the app's own OpenAPI, in-process: no server error, no response the
document does not describe, and every refusal in the documented `{code, detail}` shape.

Each operation is fuzzed on a fresh copy of a seeded database holding a few products in
different states; half of the generated requests use one of their DINs, so the fuzzing
reaches past "no such product". Bounded (few examples per operation, derandomised) so
that `make test` stays fast and repeatable.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from sqlmodel import Session

from lims.app import create_app
from lims.config import get_settings
from lims.db import make_engine
from lims.demo import DemoRun
from lims.security import issue_token
from lims.services.common import user_by_name, utcnow
from tests.factories import make_product

# LIMS_FUZZ_EXAMPLES=200 fuzzes deeper (and slower) than the default run of `make test`.
EXAMPLES = int(os.environ.get("LIMS_FUZZ_EXAMPLES", "12"))
FUZZER = "super1"  # a supervisor may call most routes, so most requests pass the role check
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_headers_conformance, response_schema_conformance, negative_data_rejection]
APP = create_app(engine=make_engine("sqlite://"), web=False)  # each test sets its database
VALID_DIN = re.compile(r"[A-Za-z0-9]{1,20}")  # the Din path parameter's schema
DINS: list[str] = []  # the template's products, filled before the first request
TOKEN: dict[str, str] = {}

schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", APP)


@schema.hook
def flatmap_path_parameters(_context: Any, path_parameters: dict[str, Any]) -> Any:
    din = path_parameters.get("din") if path_parameters else None
    if not isinstance(din, str) or not VALID_DIN.fullmatch(din):
        return st.just(path_parameters)  # keep a negative case negative
    known = st.deferred(lambda: st.sampled_from(DINS))
    return st.one_of(st.just(path_parameters),
                     known.map(lambda din: {**path_parameters, "din": din}))


@pytest.fixture(scope="session")
def fuzz_template(seeded_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The seeded template plus products received, awaiting release and released."""
    path = tmp_path_factory.mktemp("fuzz") / "fuzz.db"
    shutil.copy(seeded_template, path)
    engine = make_engine(f"sqlite:///{path}")
    with Session(engine, expire_on_commit=False) as session:
        run = DemoRun(session, say=lambda _m: None)
        t0 = utcnow() - timedelta(hours=7)
        DINS[:] = [make_product(run, arm=arm, until=state, t0=t0)[0].din
                   for arm, state in (("BM-MNC", "received"), ("CD133", "awaiting_release"),
                                      ("BM-MNC", "released"))]
        user_id = user_by_name(session, FUZZER).id
        assert user_id is not None
        TOKEN["header"] = f"Bearer {issue_token(get_settings().secret_key, user_id, 'api')}"
    engine.dispose()
    return path


@pytest.fixture
def fuzz_database(fuzz_template: Path, tmp_path: Path) -> Iterator[None]:
    path = tmp_path / "lims.db"
    shutil.copy(fuzz_template, path)
    engine = make_engine(f"sqlite:///{path}")
    APP.state.engine = engine
    yield
    engine.dispose()


@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
          suppress_health_check=list(HealthCheck))
def test_fuzzing_the_api_finds_no_server_error_and_no_undocumented_response(case,
                                                                            fuzz_database):
    case.call_and_validate(headers={"Authorization": TOKEN["header"]}, checks=CHECKS)
