"""The admin overview page: 7 days of e-mails and deliveries in the configured time zone, the queue now."""

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from ingress.models import InboundEmail
from ops.charts import Series, horizontal_bar_chart, stacked_bar_chart
from ops.overview import overview_build
from ops.rollups import rollups_build
from tests.factories import endpoint_create, settings_update
from tests.history_factories import delivery_create, email_create, failed_attempt, ok_attempt
from webhooks.models import DeliveryAttempt, EndpointLane, WebhookDelivery
from webhooks.services.heartbeat import heartbeat_record

pytestmark = pytest.mark.django_db

OVERVIEW = "/admin/overview/"
OVERVIEW_QUERIES = 27  # the baseline: a change that adds a query per page updates it knowingly
PARIS = ZoneInfo("Europe/Paris")


def rolled_up_overview(now):
    """The overview once the delivery workers have rolled the history up to `now`."""
    rollups_build(lambda: now)
    return overview_build(now)


def bucket(chart, title_start: str):
    """The bar whose segments' titles start with `title_start`, as {series label: count}."""
    found = {}
    for bar in chart.bars:
        for segment in bar.segments:
            if segment.title.startswith(title_start):
                label, count = segment.title.split(" — ", 1)[1].rsplit(": ", 1)
                found[label] = int(count)
    return found


def test_the_page_needs_a_staff_login(client):
    response = client.get(OVERVIEW)
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_the_page_draws_every_chart_as_inline_svg_with_no_external_asset(admin_client):
    email = email_create()
    delivery_create(email, endpoint_create(), attempts=[failed_attempt(500), ok_attempt()])
    response = admin_client.get(OVERVIEW)
    assert response.status_code == 200
    html = response.content.decode()
    assert html.count('<svg class="chart') == 5
    for chart_id in ("chart-emails", "chart-answer-times", "chart-deliveries", "chart-providers", "chart-reasons"):
        assert f'id="{chart_id}"' in html
    assert "<rect" in html and "Processed: 1" in html and "upstream_server_error: 1" in html
    assert not re.search(r"""(src|href)=["']https?://""", html)


def test_emails_are_counted_per_hour_in_the_configured_time_zone():
    settings_update(time_zone="Europe/Paris")
    now = datetime(2026, 4, 10, 15, 20, tzinfo=PARIS)
    # 22:30 UTC on the 8th is 00:30 on the 9th in Paris (UTC+2 in April).
    email_create(received_at=datetime(2026, 4, 8, 22, 30, tzinfo=ZoneInfo("UTC")))
    email_create(received_at=now - timedelta(minutes=5), status=InboundEmail.Status.SKIPPED_NO_LINKS)
    data = rolled_up_overview(now)
    assert bucket(data["emails_chart"], "Thu 09 Apr 00:00") == {"Processed": 1}
    assert bucket(data["emails_chart"], "Wed 08 Apr 22:00") == {}
    assert bucket(data["emails_chart"], "Fri 10 Apr 15:00") == {"Skipped: no provider link": 1}
    assert data["emails_today_total"] == 1


def test_the_hourly_chart_covers_seven_local_days_up_to_the_current_hour():
    settings_update(time_zone="Europe/Paris")
    now = datetime(2026, 4, 10, 15, 20, tzinfo=PARIS)
    chart = overview_build(now)["emails_chart"]
    assert len(chart.bars) == 6 * 24 + 16
    assert [t.text for t in chart.ticks] == ["Sat 04", "Sun 05", "Mon 06", "Tue 07", "Wed 08", "Thu 09", "Fri 10"]


def test_a_dst_change_keeps_one_bucket_per_local_hour():
    settings_update(time_zone="Europe/Paris")
    now = datetime(2026, 3, 30, 12, 0, tzinfo=PARIS)  # Paris skipped 02:00-03:00 on Sunday 29 March 2026
    chart = overview_build(now)["emails_chart"]
    assert len(chart.bars) == 6 * 24 - 1 + 13


def test_emails_older_than_seven_days_are_left_out():
    now = datetime(2026, 4, 10, 15, 20, tzinfo=PARIS)
    email_create(received_at=now - timedelta(days=8))
    assert rolled_up_overview(now)["emails_chart"].total == 0


def test_delivery_outcomes_per_day_and_today():
    now = datetime(2026, 4, 10, 15, 20, tzinfo=PARIS)
    endpoint = endpoint_create()
    delivery_create(email_create(), endpoint, created_at=now - timedelta(hours=1), attempts=[ok_attempt()])
    delivery_create(email_create(), endpoint, created_at=now - timedelta(hours=2), attempts=[failed_attempt(404)])
    delivery_create(email_create(), endpoint, created_at=now - timedelta(days=2))
    delivery_create(None, endpoint, is_test=True, created_at=now, attempts=[ok_attempt()])
    data = rolled_up_overview(now)
    assert bucket(data["deliveries_chart"], "Fri 10 Apr") == {"Succeeded": 1, "Failed": 1}
    assert bucket(data["deliveries_chart"], "Wed 08 Apr") == {"Pending": 1}
    assert data["deliveries_today_total"] == 2
    assert dict((s.key, n) for s, n in data["deliveries_today"]) == {
        "pending": 0, "sending": 0, "paused": 0, "succeeded": 1, "failed": 1, "cancelled": 0
    }


def test_providers_and_failure_reasons():
    wetransfer = {"provider": "wetransfer", "raw_url": "https://wetransfer.com/d/x", "direct_url": "x"}
    email_create()
    email_create(links=[wetransfer])
    email_create(links=[])
    delivery_create(email_create(), attempts=[failed_attempt(500), failed_attempt(None), failed_attempt(502)])
    data = overview_build()
    providers = {bar.label: bar.count for bar in data["providers_chart"].bars}
    assert providers == {"dropbox": 2, "wetransfer": 1, "swisstransfer": 0, "fromsmash": 0}
    in_flight = delivery_create(email_create(), status=WebhookDelivery.Status.SENDING)
    DeliveryAttempt.objects.create(
        delivery=in_flight, number=1, started_at=timezone.now(), url=in_flight.endpoint.url, delivery_mode="json"
    )
    reasons = [(bar.label, bar.count) for bar in overview_build()["reasons_chart"].bars]
    assert reasons == [("upstream_server_error", 2), ("request_failed", 1)]


def test_queue_depth_and_oldest_pending_delivery(admin_client):
    now = timezone.now()
    endpoint = endpoint_create()
    oldest = delivery_create(
        email_create(), endpoint, created_at=now - timedelta(minutes=30), next_attempt_at=now - timedelta(minutes=30)
    )
    delivery_create(email_create(), endpoint, created_at=now - timedelta(minutes=5),
                    next_attempt_at=now + timedelta(hours=1))
    delivery_create(email_create(), endpoint, status=WebhookDelivery.Status.SENDING)
    delivery_create(email_create(), endpoint, attempts=[ok_attempt()])
    heartbeat_record("worker-1")
    data = overview_build(now)
    queue = data["queue"]
    assert (queue.pending, queue.due, queue.sending) == (2, 1, 1)
    assert queue.oldest_pending_id == oldest.pk
    assert 1790 < data["oldest_pending_age"] < 1810
    assert data["heartbeat_age"] < 5
    html = admin_client.get(OVERVIEW).content.decode()
    assert f'href="/admin/webhooks/webhookdelivery/{oldest.pk}/change/"' in html


def test_each_endpoint_has_a_lane_line_with_its_state_and_health(admin_client):
    healthy = endpoint_create(name="healthy")
    delivery_create(email_create(), healthy, attempts=[ok_attempt()])
    broken = endpoint_create(name="broken")
    EndpointLane.objects.create(
        endpoint=broken, state="open", consecutive_failures=5, open_until=timezone.now() + timedelta(minutes=1)
    )
    waiting = delivery_create(email_create(), broken, status="pending")
    retired = endpoint_create(name="retired", is_active=False, deactivated_reason="gone")

    lanes = {endpoint.name: health for endpoint, health, _ in overview_build()["lanes"]}

    assert lanes["healthy"].state == "closed" and lanes["healthy"].success_rate_24h == 1.0
    assert (lanes["broken"].state, lanes["broken"].consecutive_failures) == ("open", 5)
    assert lanes["broken"].oldest_waiting_id == waiting.pk
    assert lanes[retired.name].state == "disabled"
    html = admin_client.get(OVERVIEW).content.decode()
    assert 'id="lanes"' in html and 'class="lane-open">open' in html


def test_ingress_answer_time_p50_and_p95_per_hour_over_the_last_24_hours(admin_client):
    settings_update(time_zone="Europe/Paris")
    now = datetime(2026, 4, 10, 15, 20, tzinfo=PARIS)
    for answer_ms in range(10, 210, 10):  # 20 pushes this hour: p50 is the 10th, p95 the 19th
        email_create(answer_ms=answer_ms, received_at=now - timedelta(minutes=10))
    email_create(answer_ms=700, received_at=now - timedelta(hours=2))
    email_create(answer_ms=900, received_at=now - timedelta(hours=25))  # before the 24 hours
    email_create(answer_ms=None, received_at=now - timedelta(minutes=5))  # recorded before answer times were
    chart = rolled_up_overview(now)["answer_chart"]
    assert len(chart.bars) == 24
    assert bucket(chart, "Fri 10 Apr 15:00") == {"p50 (median)": 100, "p95": 190}
    assert bucket(chart, "Fri 10 Apr 13:00") == {"p50 (median)": 700, "p95": 700}
    assert sum(len(bar.segments) for bar in chart.bars) == 4
    assert chart.max_value == 700
    assert 'id="chart-answer-times"' in admin_client.get(OVERVIEW).content.decode()


def test_each_endpoint_shows_its_attempt_latency_p50_and_p95_over_24_hours(admin_client):
    now = timezone.now()
    endpoint = endpoint_create(name="timed")
    durations = [ok_attempt(duration_ms=ms) for ms in (100, 200, 300)] + [failed_attempt(None, duration_ms=5000)]
    delivery_create(email_create(), endpoint, attempts=durations)
    long_ago = now - timedelta(hours=25)
    delivery_create(email_create(), endpoint, attempts=[ok_attempt(duration_ms=9000, started_at=long_ago)])
    endpoint_create(name="silent")

    latencies = {endpoint.name: latency for endpoint, _, latency in rolled_up_overview(now)["lanes"]}

    assert latencies == {"timed": (200, 5000), "silent": None}
    html = admin_client.get(OVERVIEW).content.decode()
    assert '<td class="latency">200 / 5000 ms</td>' in html


def test_the_page_query_count_is_pinned_and_does_not_grow_with_the_history(admin_client):
    def load() -> int:
        rollups_build()
        with CaptureQueriesContext(connection) as queries:
            assert admin_client.get(OVERVIEW).status_code == 200
        return len(queries)

    endpoint = endpoint_create()
    delivery_create(email_create(), endpoint, attempts=[failed_attempt(500)])
    few = load()
    now = timezone.now()
    for n in range(60):  # spread over the 7 days and before them
        at = now - timedelta(hours=3 * n)
        delivery_create(email_create(answer_ms=12 + n, received_at=at), endpoint, created_at=at,
                        attempts=[failed_attempt(500, started_at=at), ok_attempt(started_at=at)])
    assert load() == few == OVERVIEW_QUERIES

def test_stacked_bars_scale_to_the_largest_total():
    series = [Series("a", "A", "#000"), Series("b", "B", "#fff")]
    chart = stacked_bar_chart([("one", "1", {"a": 2, "b": 2}), ("two", None, {"a": 1})], series, plot_height=100)
    first, second = chart.bars
    assert [s.height for s in first.segments] == [50.0, 50.0]
    assert first.segments[1].y == 0.0
    assert second.segments[0].height == 25.0 and second.segments[0].y == 75.0
    assert chart.max_value == 4 and chart.total == 5
    assert [t.text for t in chart.ticks] == ["1"]


def test_horizontal_bars_keep_a_zero_count_visible_as_no_bar():
    chart = horizontal_bar_chart([("x", 10, "#000"), ("y", 0, "#000")], width=400, label_width=100)
    assert chart.bars[0].width == 250 and chart.bars[1].width == 0
