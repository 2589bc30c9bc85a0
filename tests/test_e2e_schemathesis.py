"""Schemathesis generates requests from the OpenAPI schema and sends them to the real service.

Every operation of /api/ (ingress with its real JSON body, and history) must answer every generated
request without a 5xx, with a documented content type and a body matching the schema; 200 examples
per operation.
"""

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import content_type_conformance, response_schema_conformance

from tests.receiver import Receiver
from tests.service import TOKEN, LiveService

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def live_api():
    receiver = Receiver().start()
    live = LiveService(
        WEBHOOK_URL=receiver.url("/fuzz"),
        DJANGO_SUPERUSER_USERNAME="fuzzer",
        DJANGO_SUPERUSER_PASSWORD="fuzz-pass-123456",
    ).start()
    live.api_token = live.shell(
        "from rest_framework.authtoken.models import Token;"
        "from django.contrib.auth.models import User;"
        "print(Token.objects.get_or_create(user=User.objects.get(username='fuzzer'))[0].key)"
    ).strip()
    yield live
    live.stop()
    receiver.stop()


def operation_exercise(live_api, operation, credentials: str) -> None:
    @given(case=operation.as_strategy())
    @settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    def exercise(case):
        case.call_and_validate(
            base_url=live_api.url(""),
            headers={"Authorization": credentials},
            checks=[not_a_server_error, content_type_conformance, response_schema_conformance],
            timeout=30,
        )

    exercise()


def test_api_answers_generated_requests_without_server_errors(live_api):
    schema = schemathesis.openapi.from_url(live_api.url("/api/schema/?format=json"))
    operations = [result.ok() for result in schema.get_all_operations()]
    assert any(op.path.startswith("/api/ingress") for op in operations)
    for operation in operations:
        credentials = f"Bearer {TOKEN}" if operation.path.startswith("/api/ingress") else f"Token {live_api.api_token}"
        operation_exercise(live_api, operation, credentials)
    accepted = live_api.shell("from ingress.models import InboundEmail; print(InboundEmail.objects.count())")
    assert int(accepted) > 0, "the ingress schema must let schemathesis build pushes the service accepts"
