"""The alert rules (docs/alerts.md) as pure functions: what the service looks like -> which alerts should be open."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from ops.alert_rules import (
    EndpointState,
    FailedDelivery,
    IngressState,
    ServiceState,
    alerts_due,
    endpoints_recovered,
    notify_raised,
)

NOW = datetime(2026, 4, 14, 10, 0, tzinfo=UTC)  # a Tuesday, 12:00 in Paris
PARIS = ZoneInfo("Europe/Paris")
MINUTE = timedelta(minutes=1)


def endpoint(pk=1, *, active=True, default=True, reason="", lane="closed", opened=None) -> EndpointState:
    return EndpointState(pk, f"ep{pk}", active, default, reason, lane, opened)


def ingress(last_push_ago=None, *, start="", end="", quiet=False) -> IngressState:
    last = NOW - last_push_ago if last_push_ago is not None else None
    return IngressState(last, NOW.astimezone(PARIS), start, end, quiet)


def state(**fields) -> ServiceState:
    fields.setdefault("endpoints", [endpoint()])
    return ServiceState(now=NOW, **fields)


def kinds(service: ServiceState) -> list[tuple[str, int]]:
    return sorted((finding.kind, finding.subject_id) for finding in alerts_due(service))


CASES = {
    "a healthy service has no alert": (state(), []),
    "a lane open for 6 minutes": (
        state(endpoints=[endpoint(lane="open", opened=NOW - 6 * MINUTE)]), [("endpoint_lane_open", 1)]
    ),
    "a half-open lane (its probe out) open for 6 minutes": (
        state(endpoints=[endpoint(lane="half_open", opened=NOW - 6 * MINUTE)]), [("endpoint_lane_open", 1)]
    ),
    "a lane open for 4 minutes is not yet an alert": (
        state(endpoints=[endpoint(lane="open", opened=NOW - 4 * MINUTE)]), []
    ),
    "the open lane of an inactive endpoint is the deactivation's alert, not the lane's": (
        state(endpoints=[endpoint(default=False, active=False, reason="failing", lane="open", opened=NOW - 9 * MINUTE),
                         endpoint(2)]),
        [("endpoint_auto_disabled", 1)],
    ),
    "an endpoint deactivated after a 410": (
        state(endpoints=[endpoint(default=False, active=False, reason="gone"), endpoint(2)]),
        [("endpoint_auto_disabled", 1)],
    ),
    "an endpoint deactivated by staff is no alert": (
        state(endpoints=[endpoint(default=False, active=False, reason="staff"), endpoint(2)]), []
    ),
    "no default endpoint at all": (state(endpoints=[endpoint(default=False)]), [("no_default_endpoint", 0)]),
    "an inactive default endpoint": (
        state(endpoints=[endpoint(active=False, reason="staff")]), [("no_default_endpoint", 0)]
    ),
    "a delivery that failed for good an hour ago": (
        state(failed_deliveries=[FailedDelivery(7, "ep1", NOW - timedelta(hours=1), "upstream_client_error")]),
        [("delivery_failed", 7)],
    ),
    "a delivery that failed for good over a day ago is no longer an alert": (
        state(failed_deliveries=[FailedDelivery(7, "ep1", NOW - timedelta(hours=25), "")]), []
    ),
    "no push for 61 minutes, no window": (
        state(ingress=ingress(61 * MINUTE), no_ingress_minutes=60), [("no_ingress", 0)]
    ),
    "no push for 59 minutes": (state(ingress=ingress(59 * MINUTE), no_ingress_minutes=60), []),
    "no push for a day, with the rule off (0)": (state(ingress=ingress(timedelta(days=1)), no_ingress_minutes=0), []),
    "never a push: nothing to compare with": (state(ingress=ingress(None), no_ingress_minutes=60), []),
    "no push for a day, outside the time window": (
        state(ingress=ingress(timedelta(days=1), start="13h00", end="18h00"), no_ingress_minutes=60), []
    ),
    "no push since yesterday, the window open for 2 hours": (
        state(ingress=ingress(timedelta(days=1), start="10h00", end="18h00"), no_ingress_minutes=60),
        [("no_ingress", 0)],
    ),
    "no push since yesterday, the window open for 30 minutes": (
        state(ingress=ingress(timedelta(days=1), start="11h30", end="18h00"), no_ingress_minutes=60), []
    ),
    "no push since yesterday, in a window wrapping midnight opened yesterday evening": (
        state(ingress=ingress(timedelta(days=1), start="20h00", end="13h00"), no_ingress_minutes=60),
        [("no_ingress", 0)],
    ),
    "no push for a day while sending is paused (or an absence day)": (
        state(ingress=ingress(timedelta(days=1), quiet=True), no_ingress_minutes=60), []
    ),
    "offload: 1 failure in 5 copies (20 %)": (
        state(offload_stored=4, offload_failed=1), [("offload_failing", 0)]
    ),
    "offload: 1 failure in 10 copies (10 %) is not over the rate": (state(offload_stored=9, offload_failed=1), []),
    "offload: 4 failures in 4 copies is below the minimum sample": (state(offload_failed=4), []),
    "the oldest due delivery waiting 16 minutes": (
        state(oldest_due_at=NOW - 16 * MINUTE, queue_age_minutes=15), [("queue_behind", 0)]
    ),
    "the oldest due delivery waiting 14 minutes": (state(oldest_due_at=NOW - 14 * MINUTE, queue_age_minutes=15), []),
    "the queue rule off (0)": (state(oldest_due_at=NOW - timedelta(days=1), queue_age_minutes=0), []),
}


@pytest.mark.parametrize("service, expected", CASES.values(), ids=CASES.keys())
def test_alerts_due(service, expected):
    assert kinds(service) == expected


def test_an_open_lane_alert_of_an_endpoint_whose_lane_closed_is_a_recovery():
    service = state(endpoints=[endpoint(1), endpoint(2, default=False, lane="open", opened=NOW - 9 * MINUTE)])

    recovered = endpoints_recovered(service, lane_alerts_open={1, 2})

    assert [(f.kind, f.subject_id) for f in recovered] == [("endpoint_recovered", 1)]


def test_an_endpoint_deactivated_while_its_lane_was_open_has_not_recovered():
    service = state(endpoints=[endpoint(1, active=False, reason="failing"), endpoint(2)])

    assert endpoints_recovered(service, lane_alerts_open={1}) == []


NOTIFY_CASES = {
    "never told": (None, False, True),
    "its raise told already": (NOW - timedelta(hours=1), True, False),
    "open again 5 minutes after the last raise was told": (NOW - 5 * MINUTE, False, False),
    "open again 15 minutes after the last raise was told": (NOW - 15 * MINUTE, False, True),
}


@pytest.mark.parametrize("last_notified, told_open, expected", NOTIFY_CASES.values(), ids=NOTIFY_CASES.keys())
def test_notify_raised_at_most_every_15_minutes(last_notified, told_open, expected):
    assert notify_raised(last_notified_at=last_notified, notified_open=told_open, now=NOW) is expected
