"""schemathesis over every operation of the OpenAPI document (issue #19, "Proof in CI").

Each operation gets schema-conforming (positive) and schema-breaking (negative) requests, sent
once with an admin token and once anonymously, to a uvicorn server on a loaded small
district. Every answer must be a non-5xx whose status, content type, headers and body are
what the document publishes for it. The server runs in a subprocess rather than through
``from_asgi``: the intake's asyncpg pool and report lanes live on the server's own event
loop, the middleware and lifespan run as deployed, and a crash or a hang shows as one.

Bounded and repeatable: ``CITYGRID_FUZZ_EXAMPLES`` examples per operation, mode and identity
(default 15), generated with ``derandomize`` (the same requests every run), no shrinking
(a failure is reported with its curl line, not minimised), and each request must be answered
within ``TIMEOUT_S``. The figures of the run are printed (``pytest -s``) and kept in
``fuzz-summary.json`` under the test's tmp directory.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import time
from collections import Counter
from dataclasses import dataclass, field

import hypothesis
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import Failure, FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from app.db.session import make_engine
from app.services.accounts.users import create_user, issue_token
from app.settings import Settings
from gis.demo import generate_district
from tests.auth import PASSWORD
from tests.conftest import create_database, drop_database
from tests.served import uvicorn_server

pytestmark = pytest.mark.slow

EXAMPLES = int(os.environ.get("CITYGRID_FUZZ_EXAMPLES", "15"))
TIMEOUT_S = 30
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
ADMIN = "fuzz-admin"


@dataclass
class Tally:
    """What one run sent and found."""

    operations: set[str] = field(default_factory=set)
    requests: int = 0
    statuses: Counter = field(default_factory=Counter)
    failures: dict[tuple[str, str, str], str] = field(default_factory=dict)  # first of each kind


@pytest.fixture(scope="module")
def served(server_url, template_db, tmp_path_factory):
    """uvicorn on a fresh database holding a small generated district, and an admin token."""
    from bench.bench_hotspots import load_district

    name = f"citygrid_fuzz_{os.getpid()}"
    url = create_database(server_url, name, template=template_db)
    engine = make_engine(url)
    load_district(engine, generate_district(n_grids=120, seed=19, events_per_grid=8.0))
    create_user(engine, ADMIN, PASSWORD, ["admin"])
    engine.dispose()
    home = tmp_path_factory.mktemp("fuzz-home")
    key = secrets.token_hex(32)
    token = issue_token(Settings(database_url=url, home=home, secret_key=key), ADMIN, minutes=120)
    try:
        with uvicorn_server(url, home, CITYGRID_SECRET_KEY=key) as base:
            yield base, token
    finally:
        drop_database(server_url, name)


def _fuzz(schema, base: str, identity: str, headers: dict[str, str], tally: Tally) -> None:
    for result in schema.get_all_operations():
        operation = result.ok()
        tally.operations.add(operation.label)
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            _fuzz_one(operation, mode, base, identity, headers, tally)


def _fuzz_one(operation, mode, base, identity, headers, tally) -> None:
    @hypothesis.given(case=operation.as_strategy(generation_mode=mode))
    @hypothesis.settings(
        max_examples=EXAMPLES,
        derandomize=True,
        database=None,
        deadline=None,  # a request's own bound is TIMEOUT_S; CPU shared in CI varies
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
        print_blob=False,
    )
    def run(case) -> None:
        response = case.call(base_url=base, headers=headers, timeout=TIMEOUT_S)
        tally.requests += 1
        tally.statuses[response.status_code // 100] += 1
        try:
            case.validate_response(response, checks=CHECKS, headers=headers)
        except FailureGroup as group:
            _record(group.exceptions, str(group), operation.label, identity, tally)
        except Failure as failure:
            _record([failure], str(failure), operation.label, identity, tally)

    # (Unsatisfiable: no way to break the schema of an operation without parameters.)
    with contextlib.suppress(hypothesis.errors.Unsatisfiable):
        run()


def _record(failures, report: str, label: str, identity: str, tally: Tally) -> None:
    for failure in failures:
        tally.failures.setdefault((label, identity, failure.title), report)


def test_every_operation_answers_as_published(served, tmp_path) -> None:
    base, token = served
    schema = schemathesis.openapi.from_url(base + "/openapi.json")
    tally = Tally()
    started = time.monotonic()
    _fuzz(schema, base, "admin", {"Authorization": f"Bearer {token}"}, tally)
    _fuzz(schema, base, "anonymous", {}, tally)
    summary = {
        "operations": len(tally.operations),
        "examples_per_operation_mode_identity": EXAMPLES,
        "requests": tally.requests,
        "answers_by_class": {f"{k}xx": v for k, v in sorted(tally.statuses.items())},
        "server_errors": sum(1 for k in tally.failures if "Server error" in k[2]),
        "failures": [" | ".join(k) for k in tally.failures],
        "seconds": round(time.monotonic() - started, 1),
    }
    (tmp_path / "fuzz-summary.json").write_text(json.dumps(summary, indent=1))
    print("\nfuzz summary:", json.dumps(summary, indent=1, ensure_ascii=False))
    assert len(tally.operations) >= 60  # every operation of the document, not a subset
    assert not tally.failures, "\n\n".join(tally.failures.values())
