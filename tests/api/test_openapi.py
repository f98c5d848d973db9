"""The OpenAPI document the companion app is generated from: every operation says what
it answers and which errors it can return, all in the one error body."""

from __future__ import annotations

import pytest

from api.main import create_app
from bandhub.settings import Settings

_NOT_FOUND_EXCEPT = {("post", "/bands/{band_id}/claim")}  # claiming registers the band


@pytest.fixture(scope="module")
def openapi() -> dict:
    return create_app(Settings(_env_file=None)).openapi()


def _operations(openapi: dict):
    for path, ops in openapi["paths"].items():
        for method, op in ops.items():
            yield method, path, op


def _model_of(schema: dict) -> str | None:
    """The name of the model a schema refers to, alone or as the items of a list."""
    ref = schema.get("$ref") or schema.get("items", {}).get("$ref")
    return ref and ref.rsplit("/", 1)[-1]


def test_every_operation_has_a_response_schema(openapi):
    for method, path, op in _operations(openapi):
        [success] = [s for s in op["responses"] if s.startswith("2")]
        if success == "204":
            assert "content" not in op["responses"][success], f"{method} {path}"
            continue
        content = op["responses"][success]["content"]
        if path == "/alerts/stream":
            assert list(content) == ["text/event-stream"]
            continue
        if path == "/bands/{band_id}/export":  # a download: JSON or FHIR, documented by media
            assert set(content) == {"application/json", "application/fhir+json"}
            continue
        model = _model_of(content["application/json"]["schema"])
        assert model, f"{method} {path} answers without a response model"


def test_error_statuses_are_documented_with_the_error_body(openapi):
    for method, path, op in _operations(openapi):
        errors = {s: r for s, r in op["responses"].items() if s.startswith("4")}
        if op.get("parameters") or op.get("requestBody"):
            assert "422" in errors, f"{method} {path} does not document 422"
        if "{band_id}" in path and (method, path) not in _NOT_FOUND_EXCEPT:
            assert "404" in errors, f"{method} {path} does not document an unknown band"
        if "{alert_id}" in path:
            assert "404" in errors, f"{method} {path} does not document an unknown alert"
        for status, response in errors.items():
            model = _model_of(response["content"]["application/json"]["schema"])
            assert model == "ErrorResponse", f"{method} {path} {status} documents {model}"


def test_the_docs_authorize_button_works_and_every_guarded_route_says_so(openapi):
    """The security scheme is OAuth2's password flow at /auth/token; each operation that
    needs a signed-in caller declares it (the docs send the token) and documents 401."""
    [(name, scheme)] = openapi["components"]["securitySchemes"].items()
    assert scheme["type"] == "oauth2"
    assert scheme["flows"]["password"]["tokenUrl"] == "/auth/token"
    guarded = 0
    for method, path, op in _operations(openapi):
        if op.get("security"):
            guarded += 1
            assert op["security"] == [{name: []}], f"{method} {path}"
            assert "401" in op["responses"], f"{method} {path} does not document 401"
    assert guarded >= 30


def test_state_changes_document_their_conflicts(openapi):
    paths = openapi["paths"]
    for method, path in [
        ("post", "/bands/{band_id}/claim"),
        ("post", "/alerts/{alert_id}/ack"),
        ("post", "/alerts/{alert_id}/ack-link"),
        ("post", "/alerts/{alert_id}/resolve"),
    ]:
        assert "409" in paths[path][method]["responses"], f"{method} {path}"
    assert "403" in paths["/bands/{band_id}/claim"]["post"]["responses"]
    for method in ("get", "post"):  # a forged link, shown or used
        assert "403" in paths["/alerts/{alert_id}/ack-link"][method]["responses"]


def test_the_error_body_is_the_one_the_api_writes(openapi):
    schemas = openapi["components"]["schemas"]
    assert "HTTPValidationError" not in schemas  # FastAPI's own 422 body is never sent
    detail = schemas[schemas["ErrorResponse"]["properties"]["error"]["$ref"].split("/")[-1]]
    assert set(detail["required"]) == {"code", "message"}
