"""/metrics scraped from the running service (three gunicorn workers and two delivery workers, as `serve`
starts them), after pushes delivered to a real receiver: every scrape, whichever process answers it,
reports what the database holds."""

import json
import time

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from tests.factories import push_payload
from tests.service import LiveService

pytestmark = pytest.mark.e2e

METRICS_TOKEN = "e2e-metrics-token-0123456789"
PATH = "/metrics-e2e"


@pytest.fixture(scope="module")
def service(receiver_live):
    live = LiveService(
        serve_args=("--web-workers", "3", "--delivery-workers", "2"),
        WEBHOOK_URL=receiver_live.url(PATH), METRICS_TOKEN=METRICS_TOKEN,
    ).start()
    yield live
    live.stop()


def scrape(service) -> dict:
    response = requests.get(service.url("/metrics"), headers={"Authorization": f"Bearer {METRICS_TOKEN}"}, timeout=10)
    assert response.status_code == 200, response.text
    samples = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return samples


def database_figures(service) -> dict:
    """What the service's database holds, read by a process of its own."""
    output = service.shell(
        "import json; from datetime import timedelta; from django.db.models import Count;"
        "from django.utils import timezone;"
        "from ingress.models import InboundEmail as E; from webhooks.models import WebhookDelivery as D,"
        " DeliveryAttempt as A;"
        "hour = timezone.now() - timedelta(hours=1);"
        "print(json.dumps({"
        "'emails': dict(E.objects.values_list('status').annotate(n=Count('pk')).order_by()),"
        "'deliveries': [[d, s, n] for d, s, n in D.objects.values_list('endpoint__name', 'status')"
        " .annotate(n=Count('pk')).order_by()],"
        "'answered': E.objects.filter(received_at__gte=hour, answer_ms__isnull=False).count(),"
        "'attempts_ok': A.objects.filter(started_at__gte=hour, succeeded=True, finished_at__isnull=False).count(),"
        "'waiting': D.objects.filter(status__in=['pending', 'sending']).count()}))"
    )
    return json.loads(output.strip().splitlines()[-1])


def test_scrapes_of_a_multi_process_service_match_the_database(service, receiver_live):
    delivered = [push_payload(subject=f"metrics {n}") for n in range(6)]
    skipped = [push_payload(subject=f"metrics no link {n}", body="<p>nothing to fetch</p>") for n in range(2)]
    for payload in delivered + skipped:
        assert service.push(payload).status_code == 200
    assert len(receiver_live.wait_for(6, timeout=30, path=PATH)) == 6
    deadline = time.monotonic() + 30
    while (figures := database_figures(service))["waiting"] and time.monotonic() < deadline:
        time.sleep(0.3)
    assert figures["waiting"] == 0
    assert figures["emails"] == {"processed": 6, "skipped_no_links": 2}

    scrapes = [scrape(service) for _ in range(6)]  # spread over the three web processes

    for samples in scrapes:
        for status, count in figures["emails"].items():
            assert samples[("signal_ingress_pushes_total", frozenset({("status", status)}))] == count
        for endpoint, status, count in figures["deliveries"]:
            labels = frozenset({("endpoint", endpoint), ("status", status)})
            assert samples[("signal_deliveries", labels)] == count
        assert samples[("signal_ingress_answer_duration_seconds_gcount", frozenset())] == figures["answered"] == 8
        ok = frozenset({("endpoint", "default"), ("outcome", "succeeded")})
        assert samples[("signal_delivery_attempt_duration_seconds_gcount", ok)] == figures["attempts_ok"] == 6
        assert samples[("signal_endpoint_lane_state", frozenset({("endpoint", "default"), ("state", "closed")}))] == 1
        assert samples[("signal_queue_deliveries", frozenset({("status", "pending")}))] == 0
        assert samples[("signal_queue_oldest_due_age_seconds", frozenset())] == 0
    assert all(samples == scrapes[0] for samples in scrapes)


def test_the_live_endpoint_refuses_a_wrong_token(service):
    response = requests.get(service.url("/metrics"), headers={"Authorization": "Bearer wrong"}, timeout=10)
    assert response.status_code == 401 and response.json()["message"] == "Unauthorized"
