"""``GET /v1/openapi.json``: a valid OpenAPI 3.1 document, of exactly the routes served,
and true to what they answer (schemathesis fuzzes every operation against it)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import jsonschema_rs
import pytest
import schemathesis
from flask import Flask
from hypothesis import Phase, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import CheckContext, not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from conftest import PASSWORD, build_app
from flask_clerk.core.instance import RequestInfo
from flask_clerk.core.models import User
from flask_clerk.core.sessions import create_session
from flask_clerk.core.user_import import BODY_KEYS
from flask_clerk.web.backend_api.openapi import openapi_document

DOCUMENT = openapi_document()
OPERATIONS = [(path, method) for path, item in DOCUMENT["paths"].items()
              for method in item if method != "parameters"]


def documented_params_known(ctx: CheckContext, response: schemathesis.Response,
                            case: schemathesis.Case) -> bool | None:
    """A request the document allows is never refused for an unknown parameter: the
    document and the views' strict readers (:mod:`.params`) list the same names."""
    if case.meta is None or case.meta.generation.mode.is_negative:
        return None
    if response.status_code == 422:
        codes = [error["code"] for error in response.json()["errors"]]
        assert "form_param_unknown" not in codes, response.json()
    return None


CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance, documented_params_known]


@pytest.fixture
def api_app(tmp_path: Any) -> Iterator[Flask]:
    """An app on SQLite (the document is about the API's logic, not the database)."""
    app = build_app(f"sqlite:///{tmp_path}/clerk.db", CLERK_RATELIMIT_ENABLED=False)
    yield app
    app.extensions["clerk"].instance.store.engine.dispose()


def _operations(document: dict[str, Any]) -> set[tuple[str, str]]:
    return {(method.upper(), "/v1" + path) for path, item in document["paths"].items()
            for method in item if method != "parameters"}


def test_the_document_is_valid_openapi_3_1() -> None:
    schemathesis.openapi.from_dict(openapi_document()).validate()
    for name, schema in DOCUMENT["components"]["schemas"].items():
        assert jsonschema_rs.meta.is_valid(schema), name


def test_it_is_served_without_the_secret_key(api_app: Flask) -> None:
    response = api_app.test_client().get("/v1/openapi.json")
    assert response.status_code == 200
    assert response.get_json() == DOCUMENT


def test_every_route_is_documented_and_every_operation_exists(api_app: Flask) -> None:
    served = {
        (method, re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule))
        for rule in api_app.url_map.iter_rules()
        if rule.rule.startswith("/v1/") and rule.endpoint != "clerk_backend_api.not_found"
        for method in (rule.methods or set()) - {"HEAD", "OPTIONS"}
    }
    assert served == _operations(DOCUMENT)


def test_create_user_documents_every_key_parse_new_user_takes() -> None:
    body = DOCUMENT["paths"]["/users"]["post"]["requestBody"]["content"]["application/json"]
    assert set(body["schema"]["properties"]) == BODY_KEYS


# --- The fuzzer ---------------------------------------------------------------------------


def _seed(app: Flask) -> dict[str, list[str]]:
    """A few real rows, so that the fuzzer's ids sometimes find something."""
    client = app.test_client()
    auth = {"Authorization": f"Bearer {app.config['CLERK_SECRET_KEY']}"}

    def post(path: str, body: dict[str, Any]) -> str:
        response = client.post(f"/v1{path}", json=body, headers=auth)
        assert response.status_code == 200, response.get_json()
        return str(response.get_json()["id"])

    ada = post("/users", {"email_address": ["ada@example.com"], "username": "ada_l",
                          "first_name": "Ada", "password": PASSWORD})
    grace = post("/users", {"email_address": ["grace@example.com"], "first_name": "Grace"})
    org = post("/organizations", {"name": "Acme", "created_by": ada})
    post(f"/organizations/{org}/memberships", {"user_id": grace, "role": "org:member"})
    org_invitation = post(f"/organizations/{org}/invitations",
                          {"email_address": "alan@example.com", "role": "org:member"})
    invitation = post("/invitations", {"email_address": "linus@example.com", "notify": False})
    waitlist_entry = post("/waitlist_entries", {"email_address": "kay@example.com",
                                                "notify": False})
    instance = app.extensions["clerk"].instance
    with instance.store.session() as db:
        signed_in = create_session(instance, db, db.get(User, ada), RequestInfo())
        session = signed_in.session.id
        db.commit()
    return {"UserId": [ada, grace], "MemberUserId": [ada, grace], "OrganizationId": [org],
            "SessionId": [session], "InvitationId": [invitation],
            "OrganizationInvitationId": [org_invitation], "WaitlistEntryId": [waitlist_entry]}


def _with_real_ids(ids: dict[str, list[str]]) -> dict[str, Any]:
    """The document, its path parameters drawn from the seeded ids (and one unknown)."""
    document = openapi_document()
    for name, values in ids.items():
        parameter = document["components"]["parameters"][name]
        parameter["example"] = values[0]
        parameter["schema"] = {"type": "string", "enum": [*values, "missing_2NNEqL2nrIRd"]}
    return document


def test_what_the_fuzzer_found_stays_fixed(api_app: Flask) -> None:
    """Three 500s schemathesis found, now 422s."""
    ids = _seed(api_app)
    client = api_app.test_client()
    auth = {"Authorization": f"Bearer {api_app.config['CLERK_SECRET_KEY']}"}
    ada, grace = ids["UserId"]
    # A NUL character in a search (SQLite refuses it in a statement, PostgreSQL in text).
    response = client.get("/v1/users?query=ada%00", headers=auth)
    assert response.status_code == 422, response.get_data(as_text=True)
    # Someone else's username, with a change that loads the addresses (an early flush).
    response = client.patch(f"/v1/users/{grace}", headers=auth, json={
        "username": "ada_l", "primary_email_address_id": "idn_missing"})
    assert response.status_code == 422
    response = client.patch(f"/v1/users/{grace}", headers=auth, json={"username": "ada_l"})
    assert response.get_json()["errors"][0]["code"] == "form_identifier_exists"
    # A member limit that no INTEGER column holds.
    (organization,) = ids["OrganizationId"]
    response = client.patch(f"/v1/organizations/{organization}", headers=auth,
                            json={"max_allowed_memberships": 2**63})
    assert response.get_json()["errors"][0]["meta"] == {"param_name": "max_allowed_memberships"}
    assert client.get(f"/v1/users/{ada}", headers=auth).get_json()["username"] == "ada_l"


@pytest.mark.parametrize(("path", "method"), OPERATIONS,
                         ids=[f"{method.upper()} {path}" for path, method in OPERATIONS])
def test_fuzz(api_app: Flask, path: str, method: str) -> None:
    """Valid and invalid requests: never a 5xx, only documented statuses and shapes."""
    schema = schemathesis.openapi.from_dict(_with_real_ids(_seed(api_app)))
    schema.app = api_app
    operation = schema[path][method]
    headers = {"Authorization": f"Bearer {api_app.config['CLERK_SECRET_KEY']}"}
    cases = (operation.as_strategy(GenerationMode.POSITIVE, headers=headers)
             | operation.as_strategy(GenerationMode.NEGATIVE, headers=headers))

    @settings(max_examples=30, derandomize=True, database=None, deadline=None,
              phases=[Phase.explicit, Phase.generate],
              suppress_health_check=[])
    @given(case=cases)
    def run(case: schemathesis.Case) -> None:
        case.call_and_validate(checks=CHECKS)

    run()
