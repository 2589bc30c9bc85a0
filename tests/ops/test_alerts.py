"""Alerts as data (docs/alerts.md): evaluation raises and resolves Alert rows, says which notifications are due,
throttles them, lets one worker evaluate at a time; notifications reach a real SMTP server and a real receiver."""

from datetime import timedelta

import pytest
from django.test import override_settings
from django.utils import timezone
from standardwebhooks import Webhook

from ops.models import Alert, AlertNotification
from ops.notifications import notice_send
from ops.services import alert_lease_take, alerts_evaluate
from tests.factories import endpoint_create
from tests.receiver import Answer
from tests.smtp_sink import SmtpSink
from tests.webhooks.conftest import SECRET
from webhooks.models import EndpointLane
from webhooks.services.endpoints import endpoints_activate, endpoints_deactivate

pytestmark = pytest.mark.django_db

NO_DEFAULT = "no_default_endpoint"


@pytest.fixture
def default_endpoint():
    return endpoint_create(name="main", is_default=True)


def open_alerts() -> list[tuple[str, str]]:
    return sorted(Alert.objects.filter(resolved_at__isnull=True).values_list("kind", "subject_label"))


def deactivate(endpoint, reason="staff"):
    endpoints_deactivate(type(endpoint).objects.filter(pk=endpoint.pk), reason=reason)


def test_a_trouble_found_opens_one_alert_and_tells_it(default_endpoint):
    deactivate(default_endpoint)

    notices = alerts_evaluate()
    again = alerts_evaluate()

    assert open_alerts() == [(NO_DEFAULT, "service")]
    assert [(n.event, n.body["data"]["kind"]) for n in notices] == [("alert.raised", NO_DEFAULT)]
    assert again == [] and Alert.objects.get().count == 1


def test_the_notification_has_the_documented_shape(default_endpoint):
    deactivate(default_endpoint)

    body = alerts_evaluate()[0].body

    assert set(body) == {"type", "occurred_at", "data"}
    assert set(body["data"]) == {"kind", "subject", "count", "first_seen_at", "last_seen_at", "message"}
    assert body["data"]["subject"] == {"type": "service", "id": None, "label": "service"}


def test_a_trouble_gone_resolves_its_alert_and_tells_it_once(default_endpoint):
    deactivate(default_endpoint)
    alerts_evaluate()
    endpoints_activate(type(default_endpoint).objects.all())

    notices = alerts_evaluate()

    assert open_alerts() == []
    assert [(n.event, n.body["data"]["kind"]) for n in notices] == [("alert.resolved", NO_DEFAULT)]
    assert alerts_evaluate() == []


def test_a_trouble_back_within_15_minutes_reopens_its_alert_untold(default_endpoint):
    for _ in range(2):
        deactivate(default_endpoint)
        alerts_evaluate()
        endpoints_activate(type(default_endpoint).objects.all())
        alerts_evaluate()
    deactivate(default_endpoint)

    notices = alerts_evaluate()

    assert notices == []
    alert = Alert.objects.get()
    assert (alert.is_open, alert.count) == (True, 3)


def test_a_reopened_alert_is_told_once_15_minutes_passed(default_endpoint):
    deactivate(default_endpoint)
    alerts_evaluate()
    Alert.objects.update(last_notified_at=timezone.now() - timedelta(minutes=16))
    endpoints_activate(type(default_endpoint).objects.all())
    alerts_evaluate()
    deactivate(default_endpoint)

    notices = alerts_evaluate()

    assert [n.event for n in notices] == ["alert.raised"]


def test_an_endpoint_whose_lane_closed_again_is_recorded_recovered_and_told_once(default_endpoint):
    lane = EndpointLane.objects.create(
        endpoint=default_endpoint, state="open", opened_at=timezone.now() - timedelta(minutes=6),
        open_until=timezone.now() + timedelta(hours=1),
    )
    assert [n.body["data"]["kind"] for n in alerts_evaluate()] == ["endpoint_lane_open"]
    lane.state, lane.opened_at = "closed", None
    lane.save()

    notices = alerts_evaluate()

    assert [(n.event, n.body["data"]["kind"]) for n in notices] == [("alert.resolved", "endpoint_recovered")]
    assert open_alerts() == [] and sorted(Alert.objects.values_list("kind", flat=True)) == [
        "endpoint_lane_open", "endpoint_recovered",
    ]


def test_one_worker_at_a_time_evaluates(db):
    now = timezone.now()

    taken = [alert_lease_take(worker, seconds=90, now=now) for worker in ("a", "b", "a")]
    after_expiry = alert_lease_take("b", seconds=90, now=now + timedelta(seconds=91))

    assert taken == [True, False, True] and after_expiry is True


@pytest.fixture
def smtp():
    sink = SmtpSink().start()
    mailer = {"BACKEND": "django.core.mail.backends.smtp.EmailBackend",
              "OPTIONS": {"host": "127.0.0.1", "port": sink.port, "timeout": 5}}
    with override_settings(MAILERS={"default": mailer}, ALERT_EMAILS=["ops@acme.fr", "oncall@acme.fr"]):
        yield sink
    sink.stop()


def raised_notice(default_endpoint):
    deactivate(default_endpoint)
    return alerts_evaluate()[0]


def test_a_notification_is_mailed_and_posted_signed_to_the_alert_receivers(default_endpoint, smtp, receiver):
    endpoint_create(name="alerts", url=receiver.url("/alerts"), secret=SECRET, receives_alerts=True)
    notice = raised_notice(default_endpoint)

    notice_send(notice)

    [mail] = smtp.wait_for("ALERT: No active default endpoint")
    assert mail.recipients == ["ops@acme.fr", "oncall@acme.fr"] and "kind: no_default_endpoint" in mail.text
    [request] = receiver.wait_for(1, path="/alerts")
    assert Webhook(SECRET).verify(request.body, request.headers) == notice.body
    channels = AlertNotification.objects.values_list("channel", "succeeded", "error")
    assert sorted(channels) == [("email", True, ""), ("webhook:alerts", True, "")]


def test_a_notification_that_cannot_be_sent_is_recorded_with_its_error(default_endpoint, smtp, receiver):
    endpoint_create(name="alerts", url=receiver.url("/alerts"), receives_alerts=True)
    receiver.answer(Answer(status=503))
    smtp.refusing = True
    notice = raised_notice(default_endpoint)

    notice_send(notice)

    failures = dict(AlertNotification.objects.filter(succeeded=False).values_list("channel", "error"))
    assert "554" in failures["email"] and failures["webhook:alerts"] == "HTTP 503"


def test_an_inactive_alert_receiver_is_not_posted_to(default_endpoint, receiver):
    alerts = endpoint_create(name="alerts", url=receiver.url("/alerts"), receives_alerts=True)
    deactivate(alerts)
    notice = raised_notice(default_endpoint)

    notice_send(notice)

    assert receiver.wait_for(1, timeout=0.5) == [] and not AlertNotification.objects.exists()
