"""Alerts where operators look: the overview lists open alerts first; admin lists them read-only, with filters."""

from datetime import timedelta

import pytest
from django.utils import timezone

from ops.models import Alert, AlertNotification

pytestmark = pytest.mark.django_db


def alert_create(kind="no_default_endpoint", *, label="service", resolved_ago=None, seen_ago=0) -> Alert:
    now = timezone.now()
    return Alert.objects.create(
        kind=kind, subject_type="service", subject_label=label, message=f"{kind} on {label}",
        first_seen_at=now - timedelta(hours=2), last_seen_at=now - timedelta(minutes=seen_ago),
        resolved_at=now - resolved_ago if resolved_ago is not None else None,
    )


def test_the_overview_lists_open_alerts_before_the_resolved_ones(admin_client):
    alert_create("queue_behind", resolved_ago=timedelta(minutes=5))
    alert_create("no_ingress", seen_ago=30)
    alert_create("offload_failing", resolved_ago=timedelta(days=2))

    html = admin_client.get("/admin/overview/").content.decode()

    section = html.split('id="alerts"', 1)[1].split("</section>", 1)[0]
    assert section.index("no_ingress on service") < section.index("queue_behind on service")
    assert "offload_failing" not in section  # resolved more than a day ago


def test_admin_lists_alerts_filtered_by_state_and_shows_failed_notifications(admin_client):
    open_alert = alert_create("no_ingress")
    alert_create("queue_behind", resolved_ago=timedelta(minutes=5))
    AlertNotification.objects.create(
        alert=open_alert, event="alert.raised", channel="email", sent_at=timezone.now(), succeeded=False,
        error="SMTPDataError: (554, b'5.7.1 Message refused')",
    )

    listed = admin_client.get("/admin/ops/alert/?state=open").content.decode()
    page = admin_client.get(f"/admin/ops/alert/{open_alert.pk}/change/").content.decode()

    assert "no_ingress on service" in listed and "queue_behind on service" not in listed
    assert "5.7.1 Message refused" in page


def test_alerts_are_read_only_in_admin(admin_client):
    alert = alert_create()

    assert admin_client.get("/admin/ops/alert/add/").status_code == 403
    assert admin_client.post(f"/admin/ops/alert/{alert.pk}/delete/", {"post": "yes"}).status_code == 403
    assert Alert.objects.filter(pk=alert.pk).exists()
