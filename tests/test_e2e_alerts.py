"""Alerts end to end (docs/alerts.md): the real service (gunicorn + two delivery workers) raises and resolves each
kind of alert, mails it through a real SMTP server (aiosmtpd on 127.0.0.1) and posts it, signed, to a real
receiver flagged `receives_alerts`; at most once per 15 minutes; a mail server that refuses is recorded and
deliveries flow on.

Thresholds counted in minutes are reached by moving rows' timestamps back (through `manage.py shell`), never
by waiting: each test is bounded to a few seconds of evaluations (every 0.5 s here).
"""

import json
import time

import pytest
from standardwebhooks import Webhook

from tests.factories import push_payload
from tests.receiver import Answer, Receiver
from tests.service import LiveService
from tests.smtp_sink import SmtpSink
from tests.webhooks.conftest import SECRET

pytestmark = pytest.mark.e2e

WAIT = 20.0
HEADINGS = {"alert.raised": "[Signal Server] ALERT:", "alert.resolved": "[Signal Server] RESOLVED:"}


@pytest.fixture(scope="module")
def smtp():
    sink = SmtpSink().start()
    yield sink
    sink.stop()


@pytest.fixture(scope="module")
def hooks():
    """The endpoints' receiver: what each test's deliveries get answered is set on it."""
    server = Receiver().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def alerts():
    """The receiver of the alert webhooks."""
    server = Receiver().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def service(smtp, hooks, alerts):
    live = LiveService(
        serve_args=("--delivery-workers", "2"), WEBHOOK_URL=hooks.url("/default"), EMAIL_URL=smtp.url,
        ALERT_EMAILS="ops@acme.fr", DEFAULT_FROM_EMAIL="signal@acme.fr", ALERT_EVALUATE_SECONDS="0.5",
        ALERT_NO_INGRESS_MINUTES="1", ALERT_QUEUE_AGE_MINUTES="1", DELIVERY_BREAKER_COOLDOWN_SECONDS="1",
        DELIVERY_BREAKER_COOLDOWN_MAX_SECONDS="1",
    ).start()
    live.shell(
        "from webhooks.models import WebhookEndpoint as E;"
        f"E.objects.create(name='alerts', url={alerts.url('/alerts')!r}, secret={SECRET!r}, receives_alerts=True)"
    )
    yield live
    live.stop()


@pytest.fixture
def fresh(service, hooks):
    """Each test starts with the default endpoint on `/default`, answering 200, no rule, no alert history, an
    e-mail just pushed, and a mark in time."""
    hooks.default = Answer()
    service.shell(
        "from webhooks.models import DeliverySettings, EndpointLane, WebhookDelivery as D, WebhookEndpoint as E;"
        "from routing.models import RoutingRule; from ops.models import Alert; from transfers.models import LinkPair;"
        "from webhooks.services.endpoints import endpoints_activate;"
        "RoutingRule.objects.all().delete(); LinkPair.objects.all().delete();"
        "D.objects.filter(status__in=['pending', 'paused']).update(status='cancelled');"
        "endpoints_activate(E.objects.all()); EndpointLane.objects.all().delete();"
        "E.objects.filter(is_default=True).update(breaker_failures=5, rate_limit_per_minute=None);"
        "s = DeliverySettings.load(); s.retry_schedule_seconds = [0] + [1] * 30; s.save();"
        "Alert.objects.all().delete()"
    )
    assert service.push(push_payload(subject="warm-up")).status_code == 200
    return time.time()


def shell(service, code: str) -> str:
    return service.shell("from django.utils import timezone; from datetime import timedelta;" + code)


def alert_posts(alerts: Receiver, event: str, kind: str, *, since: float, timeout: float = WAIT) -> list[dict]:
    """The alert webhooks of `event` and `kind` received after `since`, each verified with the endpoint's secret."""
    deadline = time.monotonic() + timeout
    while True:
        found = [
            Webhook(SECRET).verify(r.body, r.headers) for r in alerts.requests
            if r.at >= since and json.loads(r.body)["type"] == event and json.loads(r.body)["data"]["kind"] == kind
        ]
        if found or time.monotonic() >= deadline:
            return found
        time.sleep(0.1)


def delivered(receiver: Receiver, subject: str, *, timeout: float = WAIT) -> bool:
    """The receiver got the delivery of the e-mail pushed with `subject`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(json.loads(r.body).get("subject") == subject for r in receiver.requests):
            return True
        time.sleep(0.1)
    return False


def assert_told(smtp, alerts, event: str, kind: str, *, since: float) -> dict:
    """Both channels told it: the mail to ALERT_EMAILS and the signed POST; the POST's body."""
    mails = smtp.wait_for(HEADINGS[event], f"kind: {kind}", since=since)
    assert mails and mails[0].recipients == ["ops@acme.fr"] and mails[0].sender == "signal@acme.fr"
    posts = alert_posts(alerts, event, kind, since=since)
    assert posts, f"no {event} webhook for {kind}"
    return posts[0]


def assert_told_once(smtp, alerts, event: str, kind: str, *, since: float) -> None:
    """Two workers run, one evaluates: one mail and one POST, not two."""
    assert len(smtp.wait_for(HEADINGS[event], f"kind: {kind}", since=since, timeout=0)) == 1
    assert len(alert_posts(alerts, event, kind, since=since, timeout=0)) == 1


def test_a_lane_open_over_5_minutes_is_raised_and_its_recovery_told_once(service, smtp, hooks, alerts, fresh):
    shell(service, "from webhooks.models import WebhookEndpoint as E;"
                   "E.objects.filter(is_default=True).update(breaker_failures=1)")
    hooks.default = Answer(status=503)
    assert service.push(push_payload(subject="lane")).status_code == 200
    # The breaker opened on the first failure; it has been open for 6 minutes now.
    shell(
        service,
        "import time; from webhooks.models import EndpointLane as L; deadline = time.time() + 10\n"
        "while not L.objects.exclude(state='closed').filter(endpoint__is_default=True)"
        ".update(opened_at=timezone.now() - timedelta(minutes=6)) and time.time() < deadline: time.sleep(0.1)",
    )

    raised = assert_told(smtp, alerts, "alert.raised", "endpoint_lane_open", since=fresh)
    hooks.default = Answer()
    recovered = assert_told(smtp, alerts, "alert.resolved", "endpoint_recovered", since=fresh)

    assert raised["data"]["subject"]["label"] == recovered["data"]["subject"]["label"] == "default"
    assert alert_posts(alerts, "alert.resolved", "endpoint_lane_open", since=fresh, timeout=0) == []
    assert_told_once(smtp, alerts, "alert.raised", "endpoint_lane_open", since=fresh)


def test_an_endpoint_deactivated_after_a_410_is_raised_and_resolved_when_activated(service, smtp, hooks, alerts,
                                                                                    fresh):
    shell(
        service,
        "from webhooks.models import WebhookEndpoint as E; from routing.models import RoutingRule, RoutingCondition;"
        f"e, _ = E.objects.update_or_create(name='edge', defaults={{'url': {hooks.url('/edge')!r}}});"
        "r = RoutingRule.objects.create(name='edge', endpoint=e, stop_processing=True);"
        "RoutingCondition.objects.create(rule=r, field='subject', operator='contains', value='edge')",
    )
    hooks.default = Answer(status=410)
    assert service.push(push_payload(subject="edge")).status_code == 200

    raised = assert_told(smtp, alerts, "alert.raised", "endpoint_auto_disabled", since=fresh)
    hooks.default = Answer()  # the paused delivery goes out once the endpoint is active again
    shell(service, "from webhooks.models import WebhookEndpoint as E; from webhooks.services.endpoints import "
                   "endpoints_activate; endpoints_activate(E.objects.filter(name='edge'))")
    resolved = assert_told(smtp, alerts, "alert.resolved", "endpoint_auto_disabled", since=fresh)

    assert raised["data"]["subject"]["label"] == resolved["data"]["subject"]["label"] == "edge"
    assert "(gone)" in raised["data"]["message"]


def test_a_delivery_failed_for_good_is_raised_and_resolved_by_a_successful_replay(service, smtp, hooks, alerts,
                                                                                  fresh):
    hooks.default = Answer(status=400)
    assert service.push(push_payload(subject="failing")).status_code == 200

    raised = assert_told(smtp, alerts, "alert.raised", "delivery_failed", since=fresh)
    hooks.default = Answer()
    shell(
        service,
        "from webhooks.models import WebhookDelivery as D; from webhooks.services.deliveries import delivery_replay;"
        f"delivery_replay(D.objects.get(pk={raised['data']['subject']['id']}))",
    )
    resolved = assert_told(smtp, alerts, "alert.resolved", "delivery_failed", since=fresh)

    assert raised["data"]["subject"]["type"] == "delivery"
    assert resolved["data"]["subject"] == raised["data"]["subject"]


def test_no_active_default_endpoint_is_raised_and_resolved(service, smtp, alerts, fresh):
    deactivate = (
        "from webhooks.models import WebhookEndpoint as E; from webhooks.services.endpoints import "
        "endpoints_activate, endpoints_deactivate;"
    )
    shell(service, deactivate + "endpoints_deactivate(E.objects.filter(is_default=True), reason='staff')")
    raised = assert_told(smtp, alerts, "alert.raised", "no_default_endpoint", since=fresh)
    shell(service, deactivate + "endpoints_activate(E.objects.filter(is_default=True))")
    assert_told(smtp, alerts, "alert.resolved", "no_default_endpoint", since=fresh)

    assert raised["data"]["subject"] == {"type": "service", "id": None, "label": "service"}
    assert_told_once(smtp, alerts, "alert.raised", "no_default_endpoint", since=fresh)


def test_an_alert_back_within_15_minutes_is_not_told_again_until_15_minutes_passed(service, smtp, alerts, fresh):
    toggle = (
        "from webhooks.models import WebhookEndpoint as E; from webhooks.services.endpoints import "
        "endpoints_activate, endpoints_deactivate; from ops.models import Alert; import time;"
        "default = E.objects.filter(is_default=True); kind = Alert.objects.filter(kind='no_default_endpoint');"
    )
    shell(service, toggle + "endpoints_deactivate(default, reason='staff')")
    assert_told(smtp, alerts, "alert.raised", "no_default_endpoint", since=fresh)
    shell(service, toggle + "endpoints_activate(default)")
    assert_told(smtp, alerts, "alert.resolved", "no_default_endpoint", since=fresh)

    back = time.time()
    shell(service, toggle + "endpoints_deactivate(default, reason='staff'); deadline = time.time() + 10\n"
                            "while not kind.filter(resolved_at__isnull=True, count=2).exists()"
                            " and time.time() < deadline: time.sleep(0.1)")
    time.sleep(2)  # four more evaluations
    assert smtp.wait_for("kind: no_default_endpoint", since=back, timeout=0) == []
    assert alert_posts(alerts, "alert.raised", "no_default_endpoint", since=back, timeout=0) == []

    later = time.time()
    shell(service, toggle + "kind.update(last_notified_at=timezone.now() - timedelta(minutes=16))")
    again = assert_told(smtp, alerts, "alert.raised", "no_default_endpoint", since=later)
    shell(service, toggle + "endpoints_activate(default)")

    assert again["data"]["count"] == 2


def test_no_push_inside_the_time_window_is_raised_and_resolved_by_the_next_push(service, smtp, alerts, fresh):
    shell(service, "from ingress.models import InboundEmail as I;"
                   "I.objects.update(received_at=timezone.now() - timedelta(minutes=2))")
    raised = assert_told(smtp, alerts, "alert.raised", "no_ingress", since=fresh)
    assert service.push(push_payload(subject="back")).status_code == 200
    assert_told(smtp, alerts, "alert.resolved", "no_ingress", since=fresh)

    assert "No push for 1 min" in raised["data"]["message"]


def test_a_due_delivery_waiting_too_long_is_raised_and_resolved_once_it_is_sent(service, smtp, hooks, alerts, fresh):
    # The default lane may start its next attempt only in an hour (its rate limit): the push waits, due.
    shell(service, "from webhooks.models import EndpointLane as L, WebhookEndpoint as E;"
                   "e = E.objects.get(is_default=True); e.rate_limit_per_minute = 1; e.save();"
                   "L.objects.update_or_create(endpoint=e,"
                   " defaults={'rate_next_at': timezone.now() + timedelta(hours=1)})")
    assert service.push(push_payload(subject="queued")).status_code == 200
    shell(service, "from webhooks.models import WebhookDelivery as D;"
                   "D.objects.filter(status='pending', email__subject='queued')"
                   ".update(next_attempt_at=timezone.now() - timedelta(minutes=2))")

    raised = assert_told(smtp, alerts, "alert.raised", "queue_behind", since=fresh)
    shell(service, "from webhooks.models import EndpointLane as L; L.objects.update(rate_next_at=None)")
    assert_told(smtp, alerts, "alert.resolved", "queue_behind", since=fresh)

    assert delivered(hooks, "queued") and "waiting for 2 min" in raised["data"]["message"]


def offload_failures(service, count: int) -> None:
    shell(service, "from transfers.models import LinkPair;"
                   f"[LinkPair.objects.create(source_url=f'https://www.dropbox.com/s/{{n}}', provider='dropbox',"
                   f" status='failed', error='timeout') for n in range({count})]")


def test_a_file_offload_failure_rate_over_10_percent_is_raised_and_resolved(service, smtp, alerts, fresh):
    offload_failures(service, 5)
    raised = assert_told(smtp, alerts, "alert.raised", "offload_failing", since=fresh)
    shell(service, "from transfers.models import LinkPair; LinkPair.objects.update(status='stored')")
    assert_told(smtp, alerts, "alert.resolved", "offload_failing", since=fresh)

    assert "5 of 5 copies failed" in raised["data"]["message"]


def test_a_mail_server_that_refuses_is_recorded_and_deliveries_flow_on(service, smtp, hooks, alerts, fresh):
    smtp.refusing = True
    try:
        offload_failures(service, 5)
        assert alert_posts(alerts, "alert.raised", "offload_failing", since=fresh)
        assert service.push(push_payload(subject="still delivered")).status_code == 200
        sent = delivered(hooks, "still delivered")
        recorded = shell(service, "import json; from ops.models import AlertNotification as N;"
                                  "print(json.dumps(list(N.objects.filter(channel='email', alert__kind="
                                  "'offload_failing').values_list('succeeded', 'error'))))")
    finally:
        smtp.refusing = False

    [(succeeded, error)] = json.loads(recorded.strip().splitlines()[-1])
    assert sent and not succeeded and "554" in error
