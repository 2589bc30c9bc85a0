"""The OpenAPI 3 schema is complete and valid, and its docs page works without the internet."""

import json
import re

import pytest
from django.core.management import call_command
from openapi_spec_validator import validate

from tests.history_factories import staff_create

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def schema(tmp_path_factory, django_db_blocker):
    path = tmp_path_factory.mktemp("schema") / "schema.json"
    with django_db_blocker.unblock():
        # --fail-on-warn: an undocumented field or filter makes the command fail.
        call_command("spectacular", "--validate", "--fail-on-warn", "--format", "openapi-json", "--file", str(path))
    return json.loads(path.read_text())


def test_the_schema_is_a_valid_openapi_3_document(schema):
    validate(schema)
    assert schema["openapi"].startswith("3.")


def test_the_schema_is_served_at_api_schema(client):
    response = client.get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    validate(response.json())


def test_every_history_route_is_documented(schema):
    assert {
        "/api/webhooks/deliveries/", "/api/webhooks/deliveries/{id}/", "/api/emails/", "/api/emails/{email_id}/",
        "/api/webhook_logs", "/api/ingress/gmail", "/api/ingress/gmail/batch",
    } <= set(schema["paths"])


def test_the_delivery_filters_are_documented(schema):
    params = {p["name"] for p in schema["paths"]["/api/webhooks/deliveries/"]["get"]["parameters"]}
    assert {"status", "endpoint", "email_id", "since", "until", "cursor", "page_size"} <= params


@pytest.mark.parametrize("path", ["/api/webhooks/deliveries/", "/api/emails/"])
def test_history_lists_are_described_as_cursor_pages_with_page_numbers_deprecated(schema, path):
    params = {p["name"]: p for p in schema["paths"][path]["get"]["parameters"]}
    assert params["page"].get("deprecated") is True and "cursor" in params
    assert params["page_size"]["schema"] == {"type": "integer", "minimum": 1, "maximum": 200}
    ref = schema["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    page = schema["components"]["schemas"][ref.rsplit("/", 1)[-1]]
    assert page["required"] == ["results"]
    assert {"next", "previous", "results", "count"} == set(page["properties"])


def test_security_schemes_cover_tokens_sessions_and_the_ingress_bearer(schema):
    schemes = schema["components"]["securitySchemes"]
    assert schemes["IngressBearer"] == {
        "type": "http", "scheme": "bearer", "description": schemes["IngressBearer"]["description"]
    }
    assert schemes["tokenAuth"]["in"] == "header" and schemes["cookieAuth"]["in"] == "cookie"
    assert schema["paths"]["/api/ingress/gmail"]["post"]["security"] == [{"IngressBearer": []}]
    history = schema["paths"]["/api/webhooks/deliveries/"]["get"]["security"]
    assert {"tokenAuth": []} in history and {"cookieAuth": []} in history


def test_the_docs_page_loads_only_local_assets(client):
    client.force_login(staff_create("docs-reader"))
    response = client.get("/api/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert any(a.endswith("swagger-ui-bundle.js") for a in assets)
    assert not re.search(r"https?://(?!testserver)", html), "the docs page refers to an external host"
    for asset in assets:
        assert asset.startswith("/"), asset
        assert client.get(asset).status_code == 200, asset
    # The init script is served apart (no inline script, so the CSP holds) and keeps Swagger UI offline.
    init = next(a for a in re.findall(r'<script src="([^"]+)"', html) if "script" in a.split("?", 1)[-1])
    script = client.get(init.replace("&amp;", "&")).content.decode()
    assert '"validatorUrl": null' in script, "Swagger UI would fetch its validator badge from the internet"


@pytest.mark.parametrize(
    ("path", "required"), [("/api/ingress/gmail", {"sender", "body"}), ("/api/ingress/gmail/batch", {"emails"})]
)
def test_the_ingress_request_bodies_are_described(schema, path, required):
    body = schema["paths"][path]["post"]["requestBody"]
    assert body["required"] is True
    ref = body["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]
    assert set(schema["components"]["schemas"][ref]["required"]) == required


def test_every_ingress_answer_is_described(schema):
    push = schema["paths"]["/api/ingress/gmail"]["post"]["responses"]
    batch = schema["paths"]["/api/ingress/gmail/batch"]["post"]["responses"]
    assert set(push) == {"200", "400", "401", "409", "413", "429", "500", "503"}
    assert set(batch) == {"200", "400", "401", "413", "500", "503"}
    item = schema["components"]["schemas"]["GmailBatchItemAnswer"]["properties"]
    assert {"code", "retry_after", "status", "message", "email_id"} <= set(item)
