"""The OpenAPI document is the API's contract: every JSON route publishes the schema of its
answer and the problem answers it can give, and real answers match what is published."""

from __future__ import annotations

from typing import cast

import jsonschema
import pytest
import shapely
from fastapi import APIRouter, FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from shapely.geometry import shape

from app.api.auth import current_user, require
from app.api.openapi import install_openapi
from app.api.ratelimit import limit_public_writes
from app.main import _routers, create_app
from app.settings import Settings
from tests import auth

PROBLEM = "application/problem+json"
PROBLEM_REF = "#/components/schemas/Problem"
OPEN311_REF = "#/components/schemas/Open311Error"
# HTML pages (another room's contract: a page, not JSON).
PAGE_MODULES = {"app.api.routes.login", "app.api.routes.home", "app.api.routes.maps"}
# Path parameters that name no stored thing: any year has a calendar (the default one).
NOT_LOOKUPS = {"/api/v1/calendar/{year}"}


def _calls(dependant) -> set:
    """Every dependency callable below ``dependant``."""
    found = set()
    for dep in dependant.dependencies:
        found.add(dep.call)
        found |= _calls(dep)
    return found


def _role_check(call) -> bool:
    return getattr(call, "__qualname__", "").startswith(require.__qualname__ + ".")


def expected_problems(route: APIRoute) -> set[int]:
    """The statuses a route's declaration implies it can answer with."""
    calls = _calls(route.dependant)
    statuses = {503} | ({400} if route.path.startswith("/open311/") else {422})
    if current_user in calls or any(_role_check(c) for c in calls):
        statuses.add(401)
    if any(_role_check(c) for c in calls):
        statuses.add(403)
    if (
        "{" in route.path and route.path not in NOT_LOOKUPS
    ):  # looks something up by id or code (Open311: also the format)
        statuses.add(404)
    if limit_public_writes in calls:
        statuses.add(429)
    return statuses


def contract_gaps(app: FastAPI, routers: list[APIRouter]) -> list[str]:
    """What the document leaves out: a route without a response model or 2xx schema, or
    without a problem answer its dependencies imply, in the wrong shape."""
    document, gaps = app.openapi(), []
    for router in routers:
        for route in router.routes:
            if not isinstance(route, APIRoute) or not route.include_in_schema:
                continue
            if route.endpoint.__module__ in PAGE_MODULES:
                continue
            for method in route.methods or ():
                where = f"{method} {route.path}"
                answers = document["paths"][route.path_format][method.lower()]["responses"]
                if route.status_code != 204:
                    if route.response_model is None:
                        gaps.append(f"{where}: no response_model")
                    ok = answers.get(str(route.status_code or 200), {}).get("content", {})
                    if not ok or not all(c.get("schema") for c in ok.values()):
                        gaps.append(f"{where}: no schema for its success answer")
                open311 = route.path.startswith("/open311/")
                ref = OPEN311_REF if open311 else PROBLEM_REF
                for status in sorted(expected_problems(route)):
                    content = answers.get(str(status), {}).get("content", {})
                    schemas = str([c.get("schema") for c in content.values()])
                    if ref not in schemas or (not open311 and set(content) != {PROBLEM}):
                        gaps.append(f"{where}: {status} not listed with {ref.rsplit('/', 1)[1]}")
    return gaps


@pytest.fixture(scope="module")
def app():
    return create_app(Settings())


def test_every_json_route_publishes_its_answer_and_its_problems(app):
    assert contract_gaps(app, _routers()) == []


def test_the_check_catches_an_undocumented_route():
    router = APIRouter()

    @router.get("/things/{code}", dependencies=[require("planner")])
    def read_thing(code: str):
        return {"code": code}

    toy = FastAPI()
    install_openapi(toy)
    toy.include_router(router)
    gaps = contract_gaps(toy, [router])
    assert "GET /things/{code}: no response_model" in gaps
    assert {f"GET /things/{{code}}: {s} not listed with Problem" for s in (401, 403, 404)} <= set(
        gaps
    )


def test_validation_errors_are_documented_as_problems_not_fastapis_default(app):
    document = app.openapi()
    schemas = document["components"]["schemas"]
    assert "HTTPValidationError" not in schemas
    assert {"type", "title", "status", "detail", "instance"} <= set(schemas["Problem"]["required"])
    grids = document["paths"]["/api/v1/grids"]["get"]["responses"]
    assert grids["422"]["content"] == {PROBLEM: {"schema": {"$ref": PROBLEM_REF}}}
    assert set(grids["200"]["content"]) == {"application/geo+json"}
    # Open311 clients get the spec's error list; a refused argument is a 400 there.
    services = document["paths"]["/open311/v2/services.{fmt}"]["get"]["responses"]
    assert "422" not in services and set(services["400"]["content"]) == {
        "application/json",
        "text/xml",
    }


# -- real answers against the published schemas -------------------------------------------


@pytest.fixture(scope="module")
def client(demo_url, tmp_path_factory):
    settings = Settings(database_url=demo_url, home=tmp_path_factory.mktemp("home"))
    with TestClient(create_app(settings)) as client:
        yield client, settings


def published(client: TestClient, method: str, path: str, status: int, media: str) -> dict:
    """The schema the document publishes for one answer, with the components to resolve it."""
    document = cast(FastAPI, client.app).openapi()
    content = document["paths"][path][method]["responses"][str(status)]["content"]
    return {**content[media]["schema"], "components": document["components"]}


def check(client: TestClient, response, method: str, path: str) -> dict:
    media = response.headers["content-type"].split(";")[0]
    schema = published(client, method, path, response.status_code, media)
    jsonschema.Draft202012Validator(schema).validate(response.json())
    return response.json()


def test_read_answers_match_the_published_schemas(client):
    client, _ = client
    page = check(client, client.get("/api/v1/grids?limit=3"), "get", "/api/v1/grids")
    assert page["numberReturned"] == 3
    evaluation = client.get("/api/v1/evaluation?level=area&from=2026-01-01&to=2026-10-31")
    assert check(client, evaluation, "get", "/api/v1/evaluation")["rows"]
    problem = client.get("/api/v1/grids?bbox=1,2")
    assert problem.status_code == 422 and problem.headers["content-type"] == PROBLEM
    check(client, problem, "get", "/api/v1/grids")


def test_a_case_read_and_its_transition_match_the_published_schemas(demo_copy, tmp_path):
    settings = Settings(database_url=demo_copy, home=tmp_path / "home")
    headers = auth.headers(settings, "admin")
    with TestClient(create_app(settings), headers=headers) as client:
        grid = client.get("/api/v1/grids?limit=1").json()["features"][0]
        point = shapely.Point(shape(grid["geometry"]).representative_point())
        report = {"class_code": "0102", "lon": point.x, "lat": point.y, "description": "垃圾"}
        created = client.post("/api/v1/events", json=report)
        assert created.status_code == 201
        event = check(client, created, "post", "/api/v1/events")
        read = client.get(f"/api/v1/events/{event['id']}")
        assert check(client, read, "get", "/api/v1/events/{event_id}")["id"] == event["id"]
        workflow = f"/api/v1/events/{event['id']}/workflow"
        allowed = check(client, client.get(workflow), "get", "/api/v1/events/{event_id}/workflow")
        action = allowed["allowed_actions"][0]["action"]
        moved = client.post(f"/api/v1/events/{event['id']}/transitions", json={"action": action})
        assert moved.status_code == 200, moved.text
        after = check(client, moved, "post", "/api/v1/events/{event_id}/transitions")
        assert after["status"] != allowed["status"]
        missing = client.get("/api/v1/events/999999999")
        assert missing.status_code == 404
        check(client, missing, "get", "/api/v1/events/{event_id}")
