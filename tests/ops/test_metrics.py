"""GET /metrics: Prometheus text read from the database at scrape time, behind a token or an address allowlist."""

import ipaddress
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from ingress.models import InboundEmail
from ops.metrics import metrics_render
from tests.factories import endpoint_create
from tests.history_factories import delivery_create, email_create, failed_attempt, ok_attempt
from transfers.models import LinkPair
from webhooks.models import EndpointLane, WebhookDelivery

pytestmark = pytest.mark.django_db

METRICS = "/metrics"
TOKEN = "scrape-me-0123456789"


def scrape(now=None) -> dict:
    """{sample name: {frozenset of label items: value}} from the rendered text, as Prometheus parses it."""
    samples: dict = {}
    for family in text_string_to_metric_families(metrics_render(now).decode()):
        for sample in family.samples:
            samples.setdefault(sample.name, {})[frozenset(sample.labels.items())] = sample.value
    return samples


def value(samples: dict, name: str, **labels) -> float:
    return samples[name][frozenset(labels.items())]


# --- Series ---------------------------------------------------------------------------------------


def test_pushes_are_counted_by_answer_status_with_every_status_present():
    email_create()
    email_create()
    email_create(status=InboundEmail.Status.SKIPPED_NO_LINKS)
    samples = scrape()
    assert value(samples, "signal_ingress_pushes_total", status="processed") == 2
    assert value(samples, "signal_ingress_pushes_total", status="skipped_no_links") == 1
    assert value(samples, "signal_ingress_pushes_total", status="deferred") == 0


def test_answer_times_of_the_last_hour_fill_cumulative_buckets():
    for answer_ms in (20, 80, 400, 3000):
        email_create(answer_ms=answer_ms)
    email_create(answer_ms=90, received_at=timezone.now() - timedelta(hours=2))  # outside the window
    email_create(answer_ms=None)  # recorded before answer times were
    samples = scrape()
    buckets = "signal_ingress_answer_duration_seconds_bucket"
    assert value(samples, buckets, le="0.05") == 1
    assert value(samples, buckets, le="0.1") == 2
    assert value(samples, buckets, le="0.5") == 3
    assert value(samples, buckets, le="5.0") == 4 and value(samples, buckets, le="+Inf") == 4
    assert value(samples, "signal_ingress_answer_duration_seconds_gcount") == 4
    assert value(samples, "signal_ingress_answer_duration_seconds_gsum") == pytest.approx(3.5)


def test_deliveries_are_counted_by_endpoint_and_status():
    alpha, beta = endpoint_create(name="alpha"), endpoint_create(name="beta")
    delivery_create(email_create(), alpha, attempts=[ok_attempt()])
    delivery_create(email_create(), alpha, attempts=[failed_attempt(404)])
    delivery_create(email_create(), beta, attempts=[ok_attempt()])
    delivery_create(email_create(), beta)
    samples = scrape()
    assert value(samples, "signal_deliveries", endpoint="alpha", status="succeeded") == 1
    assert value(samples, "signal_deliveries", endpoint="alpha", status="failed") == 1
    assert value(samples, "signal_deliveries", endpoint="beta", status="succeeded") == 1
    assert value(samples, "signal_deliveries", endpoint="beta", status="pending") == 1


def test_attempt_latency_is_a_histogram_per_endpoint_and_outcome_over_the_last_hour():
    endpoint = endpoint_create(name="hook")
    delivery_create(email_create(), endpoint, attempts=[ok_attempt(duration_ms=40), ok_attempt(duration_ms=700)])
    delivery_create(email_create(), endpoint, attempts=[failed_attempt(None, duration_ms=30000)])
    old = timezone.now() - timedelta(hours=3)
    delivery_create(email_create(), endpoint, attempts=[ok_attempt(duration_ms=10, started_at=old)])
    delivery_create(None, endpoint, is_test=True, attempts=[ok_attempt(duration_ms=10)])
    samples = scrape()
    buckets = "signal_delivery_attempt_duration_seconds_bucket"
    ok = {"endpoint": "hook", "outcome": "succeeded"}
    assert value(samples, buckets, **ok, le="0.05") == 1
    assert value(samples, buckets, **ok, le="0.5") == 1
    assert value(samples, buckets, **ok, le="1.0") == 2
    assert value(samples, buckets, **ok, le="+Inf") == 2
    assert value(samples, "signal_delivery_attempt_duration_seconds_gsum", **ok) == pytest.approx(0.74)
    failed = {"endpoint": "hook", "outcome": "failed"}
    assert value(samples, buckets, **failed, le="10.0") == 0
    assert value(samples, buckets, **failed, le="30.0") == 1


def test_each_lane_reports_one_for_its_current_state_only():
    endpoint_create(name="healthy")
    broken = endpoint_create(name="broken")
    EndpointLane.objects.create(endpoint=broken, state="open", open_until=timezone.now() + timedelta(minutes=1))
    endpoint_create(name="retired", is_active=False)
    samples = scrape()
    states = {
        (labels["endpoint"], labels["state"]): count
        for labels, count in ((dict(key), n) for key, n in samples["signal_endpoint_lane_state"].items())
        if count
    }
    assert states == {("healthy", "closed"): 1, ("broken", "open"): 1, ("retired", "disabled"): 1}
    assert value(samples, "signal_endpoint_lane_state", endpoint="broken", state="closed") == 0


def test_queue_depth_and_the_oldest_due_age():
    now = timezone.now()
    endpoint = endpoint_create()
    delivery_create(email_create(), endpoint, next_attempt_at=now - timedelta(seconds=90))
    delivery_create(email_create(), endpoint, next_attempt_at=now + timedelta(hours=1))
    delivery_create(email_create(), endpoint, status=WebhookDelivery.Status.SENDING)
    delivery_create(email_create(), endpoint, status=WebhookDelivery.Status.PAUSED)
    samples = scrape(now)
    assert value(samples, "signal_queue_deliveries", status="pending") == 2
    assert value(samples, "signal_queue_deliveries", status="sending") == 1
    assert value(samples, "signal_queue_deliveries", status="paused") == 1
    assert value(samples, "signal_queue_oldest_due_age_seconds") == pytest.approx(90, abs=1)


def test_an_empty_queue_has_no_oldest_due_age():
    samples = scrape()
    assert value(samples, "signal_queue_oldest_due_age_seconds") == 0
    assert value(samples, "signal_queue_deliveries", status="pending") == 0


def test_offload_outcomes_by_status():
    for n, status in enumerate(["stored", "stored", "failed"]):
        LinkPair.objects.create(source_url=f"https://www.dropbox.com/s/{n}?dl=1", provider="dropbox", status=status)
    samples = scrape()
    assert value(samples, "signal_offload_links", status="stored") == 2
    assert value(samples, "signal_offload_links", status="failed") == 1
    assert value(samples, "signal_offload_links", status="pending") == 0


def test_a_scrape_query_count_does_not_grow_with_the_history():
    endpoint = endpoint_create()

    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            metrics_render()
        return len(queries)

    delivery_create(email_create(), endpoint, attempts=[ok_attempt()])
    few = count()
    for _ in range(20):
        delivery_create(email_create(answer_ms=5), endpoint, attempts=[failed_attempt(500), ok_attempt()])
    assert count() == few


# --- Access -----------------------------------------------------------------------------------------


@pytest.fixture
def token_required(settings):
    settings.METRICS_TOKEN = TOKEN
    settings.METRICS_ALLOWED_NETWORKS = []


def test_without_a_token_or_an_allowlist_the_endpoint_does_not_exist(client, settings):
    settings.METRICS_TOKEN = ""
    settings.METRICS_ALLOWED_NETWORKS = []
    response = client.get(METRICS, HTTP_AUTHORIZATION="Bearer anything")
    assert response.status_code == 404 and response.json()["success"] is False


def test_the_right_bearer_token_reads_prometheus_text_never_cached(client, token_required):
    response = client.get(METRICS, HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=0.0.4")
    assert "no-cache" in response["Cache-Control"] and "max-age=0" in response["Cache-Control"]
    assert "# TYPE signal_ingress_pushes_total counter" in response.content.decode()


@pytest.mark.parametrize("header", [None, "Bearer wrong-token", f"Token {TOKEN}", f"Bearer {TOKEN}x"])
def test_a_missing_or_wrong_token_is_401_json(client, token_required, header):
    extra = {"HTTP_AUTHORIZATION": header} if header else {}
    response = client.get(METRICS, **extra)
    assert response.status_code == 401
    assert response.json() == {"success": False, "message": "Unauthorized"}
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_an_address_in_the_allowlist_needs_no_token(client, settings):
    settings.METRICS_TOKEN = ""
    settings.METRICS_ALLOWED_NETWORKS = [ipaddress.ip_network("10.0.0.0/8"), ipaddress.ip_network("127.0.0.1/32")]
    assert client.get(METRICS).status_code == 200
    assert client.get(METRICS, REMOTE_ADDR="::ffff:10.1.2.3").status_code == 200


def test_an_address_outside_the_allowlist_is_403_json(client, settings):
    settings.METRICS_TOKEN = ""
    settings.METRICS_ALLOWED_NETWORKS = [ipaddress.ip_network("10.0.0.0/8")]
    response = client.get(METRICS, REMOTE_ADDR="192.0.2.7")
    assert response.status_code == 403
    assert response.json() == {"success": False, "message": "Forbidden"}


def test_with_both_an_outside_address_still_gets_in_with_the_token(client, settings):
    settings.METRICS_TOKEN = TOKEN
    settings.METRICS_ALLOWED_NETWORKS = [ipaddress.ip_network("10.0.0.0/8")]
    assert client.get(METRICS, REMOTE_ADDR="192.0.2.7").status_code == 401
    assert client.get(METRICS, REMOTE_ADDR="192.0.2.7", HTTP_AUTHORIZATION=f"Bearer {TOKEN}").status_code == 200
    assert client.get(METRICS, REMOTE_ADDR="10.9.9.9").status_code == 200


def test_only_get_is_allowed(client, token_required):
    assert client.post(METRICS, HTTP_AUTHORIZATION=f"Bearer {TOKEN}").status_code == 405


def test_the_endpoint_is_not_in_the_api_schema(client):
    schema = client.get("/api/schema/", {"format": "json"}).json()
    assert schema["paths"] and not [path for path in schema["paths"] if "metrics" in path]
