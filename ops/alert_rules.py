"""Alert rules (docs/alerts.md) as pure functions: what the service looks like now -> the alerts that should
be open, and when a notification may go out. The database reads live in ops.selectors, the writes in
ops.services; nothing here touches either.
"""

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from core.times import time_parse
from ingress.windows import window_state
from ops.models import Alert

Kind = Alert.Kind
Subject = Alert.SubjectType

LANE_OPEN_FOR = timedelta(minutes=5)
# A delivery that failed for good stays an open alert this long at most, unless it is replayed or cancelled.
DELIVERY_FAILED_FOR = timedelta(hours=24)
OFFLOAD_FAILURE_RATE = 0.10
OFFLOAD_MIN_SAMPLE = 5
NOTIFY_AT_MOST_EVERY = timedelta(minutes=15)
AUTO_DISABLE_REASONS = ("gone", "failing")


@dataclass(frozen=True)
class Finding:
    """An alert that should be open: its kind, its subject, and what to tell."""

    kind: str
    subject_type: str
    subject_id: int
    label: str
    message: str

    @property
    def key(self) -> tuple[str, str, int]:
        return (self.kind, self.subject_type, self.subject_id)


@dataclass(frozen=True)
class EndpointState:
    id: int
    name: str
    is_active: bool
    is_default: bool
    deactivated_reason: str
    lane_state: str  # closed | open | half_open
    lane_opened_at: datetime | None


@dataclass(frozen=True)
class FailedDelivery:
    id: int
    endpoint_name: str
    completed_at: datetime
    failure_reason: str


@dataclass(frozen=True)
class IngressState:
    last_push_at: datetime | None
    now_local: datetime
    window_start: str
    window_end: str
    quiet: bool  # ingress off, sending paused or an absence day: silence is expected


@dataclass(frozen=True)
class ServiceState:
    now: datetime
    endpoints: list[EndpointState] = field(default_factory=list)
    failed_deliveries: list[FailedDelivery] = field(default_factory=list)
    ingress: IngressState | None = None
    offload_stored: int = 0  # copies in the last hour
    offload_failed: int = 0
    oldest_due_at: datetime | None = None
    no_ingress_minutes: int = 0  # 0 = off
    queue_age_minutes: int = 0  # 0 = off


def alerts_due(state: ServiceState) -> list[Finding]:
    """Every alert that should be open now."""
    return [
        *_lanes_open(state),
        *_endpoints_auto_disabled(state),
        *_deliveries_failed(state),
        *_no_default_endpoint(state),
        *_no_ingress(state),
        *_offload_failing(state),
        *_queue_behind(state),
    ]


def endpoints_recovered(state: ServiceState, lane_alerts_open: set[int]) -> list[Finding]:
    """The endpoints whose open-lane alert is open and whose lane closed again, with the endpoint active."""
    return [
        Finding(Kind.ENDPOINT_RECOVERED, Subject.ENDPOINT, e.id, e.name, f"Endpoint {e.name} recovered: lane closed")
        for e in state.endpoints
        if e.id in lane_alerts_open and e.is_active and e.lane_state == "closed"
    ]


def notify_raised(*, last_notified_at: datetime | None, notified_open: bool, now: datetime) -> bool:
    """Tell that an open alert is raised: not told yet, and nothing told of it for 15 minutes."""
    if notified_open:
        return False
    return last_notified_at is None or now - last_notified_at >= NOTIFY_AT_MOST_EVERY


def _lanes_open(state: ServiceState) -> list[Finding]:
    found = []
    for e in state.endpoints:
        opened = e.lane_opened_at
        if e.is_active and e.lane_state != "closed" and opened is not None and state.now - opened > LANE_OPEN_FOR:
            minutes = int((state.now - opened).total_seconds() // 60)
            found.append(Finding(
                Kind.ENDPOINT_LANE_OPEN, Subject.ENDPOINT, e.id, e.name,
                f"Endpoint {e.name}: circuit breaker open for {minutes} min; its deliveries wait",
            ))
    return found


def _endpoints_auto_disabled(state: ServiceState) -> list[Finding]:
    return [
        Finding(
            Kind.ENDPOINT_AUTO_DISABLED, Subject.ENDPOINT, e.id, e.name,
            f"Endpoint {e.name} deactivated ({e.deactivated_reason}); its deliveries wait, paused",
        )
        for e in state.endpoints
        if not e.is_active and e.deactivated_reason in AUTO_DISABLE_REASONS
    ]


def _deliveries_failed(state: ServiceState) -> list[Finding]:
    return [
        Finding(
            Kind.DELIVERY_FAILED, Subject.DELIVERY, d.id, f"delivery #{d.id} to {d.endpoint_name}",
            f"Delivery #{d.id} to {d.endpoint_name} failed for good ({d.failure_reason or 'no reason'})",
        )
        for d in state.failed_deliveries
        if state.now - d.completed_at < DELIVERY_FAILED_FOR
    ]


def _no_default_endpoint(state: ServiceState) -> list[Finding]:
    if any(e.is_default and e.is_active for e in state.endpoints):
        return []
    default = next((e for e in state.endpoints if e.is_default), None)
    then = (
        f"the default endpoint {default.name} is inactive: its deliveries wait, paused" if default
        else "no endpoint is the default: e-mails no rule routes are refused (409)"
    )
    return [Finding(Kind.NO_DEFAULT_ENDPOINT, Subject.SERVICE, 0, "service", f"No active default endpoint: {then}")]


def _no_ingress(state: ServiceState) -> list[Finding]:
    minutes, ingress = state.no_ingress_minutes, state.ingress
    if minutes <= 0 or ingress is None or ingress.quiet or ingress.last_push_at is None:
        return []
    window = window_state(ingress.window_start, ingress.window_end, ingress.now_local)
    if not window.within:
        return []
    since = ingress.last_push_at
    if window.configured:
        since = max(since, window_opened_at(ingress.window_start, ingress.now_local))
    if state.now - since < timedelta(minutes=minutes):
        return []
    return [Finding(
        Kind.NO_INGRESS, Subject.SERVICE, 0, "service",
        f"No push for {minutes} min inside the time window (last push at {ingress.last_push_at:%Y-%m-%d %H:%M} UTC)",
    )]


def window_opened_at(start: str, now_local: datetime) -> datetime:
    """The last time the window opened, at or before `now_local` (which is inside it)."""
    start_t = time_parse(start)
    opened = now_local.replace(hour=start_t.hour, minute=start_t.minute, second=0, microsecond=0)
    return opened if opened <= now_local else opened - timedelta(days=1)


def _offload_failing(state: ServiceState) -> list[Finding]:
    total = state.offload_stored + state.offload_failed
    if total < OFFLOAD_MIN_SAMPLE or state.offload_failed / total <= OFFLOAD_FAILURE_RATE:
        return []
    return [Finding(
        Kind.OFFLOAD_FAILING, Subject.SERVICE, 0, "service",
        f"File offload: {state.offload_failed} of {total} copies failed in the last hour",
    )]


def _queue_behind(state: ServiceState) -> list[Finding]:
    minutes, oldest = state.queue_age_minutes, state.oldest_due_at
    if minutes <= 0 or oldest is None or state.now - oldest < timedelta(minutes=minutes):
        return []
    waited = int((state.now - oldest).total_seconds() // 60)
    return [Finding(
        Kind.QUEUE_BEHIND, Subject.SERVICE, 0, "service",
        f"Oldest due delivery waiting for {waited} min (limit {minutes} min)",
    )]
