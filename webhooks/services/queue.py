"""The delivery rows as the queue (SPEC §7.1): claiming due deliveries lane by lane.

A worker claims with a lease: the delivery moves to `sending` under a claim token, and only the holder
of that token may record its answer. The claim also records the attempt about to go out (still open),
so a worker that dies mid-request leaves a visible trace. Claims are fair: every round visits the lanes in turn,
each gets a share of the worker's free slots, and a lane admits only what its limits allow (webhooks.lanes), so
one endpoint's backlog never holds back another's due delivery. On PostgreSQL the lane row and the
delivery rows are taken with `SELECT … FOR UPDATE SKIP LOCKED`: two workers never wait for each other,
and never both claim one delivery. On SQLite every write transaction goes through the writer queue.
"""

import logging
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Case, Count, F, Value, When
from django.utils import timezone

from transfers.download import download_budget
from transfers.services import CLAIM_UPLOAD_MARGIN_SECONDS
from webhooks import lanes
from webhooks.models import DeliveryAttempt, EndpointLane, WebhookDelivery, WebhookEndpoint

logger = logging.getLogger("webhooks")

Status = WebhookDelivery.Status
# A lease is what the attempt can really take, so a claim whose worker died comes back no later than that:
# per HTTP try the endpoint timeout (the transport's hard bound), twice with the 415 fallback, plus room
# for the writes; before the first try of a payload still to build, each link's copy to the bucket (§8).
TRY_LEASE_SLACK = timedelta(seconds=5)


@dataclass(frozen=True)
class Claim:
    delivery_id: int
    endpoint_id: int
    token: str
    attempt: int = 0  # the number of the attempt the claim opened
    probe: bool = False


@dataclass
class ClaimRound:
    claims: list[Claim] = field(default_factory=list)
    wait_until: datetime | None = None  # the next moment a lane holding due deliveries admits again

    def wait_for(self, moment: datetime | None) -> None:
        if moment is not None and (self.wait_until is None or moment < self.wait_until):
            self.wait_until = moment


def lane_limits(endpoint: WebhookEndpoint) -> lanes.LaneLimits:
    return lanes.LaneLimits(
        max_in_flight=endpoint.max_in_flight,
        rate_limit_per_minute=endpoint.rate_limit_per_minute,
        breaker_failures=endpoint.breaker_failures,
        cooldown_first=timedelta(seconds=settings.DELIVERY_BREAKER_COOLDOWN_SECONDS),
        cooldown_max=timedelta(seconds=settings.DELIVERY_BREAKER_COOLDOWN_MAX_SECONDS),
    )


LANE_FIELDS = (
    "state", "state_since", "consecutive_failures", "cooldown_seconds", "open_until", "probe_delivery_id",
    "rate_next_at", "last_success_at", "failing_since", "opened_at",
)


def lane_of(row: EndpointLane) -> lanes.Lane:
    return lanes.Lane(**{name: getattr(row, name) for name in LANE_FIELDS})


def lane_store(row: EndpointLane, lane: lanes.Lane) -> None:
    """Write the lane's changed fields (the row is locked by the caller's transaction)."""
    changed = [name for name in LANE_FIELDS if getattr(row, name) != getattr(lane, name)]
    if changed:
        for name in changed:
            setattr(row, name, getattr(lane, name))
        row.save(update_fields=[*changed, "updated_at"])


def try_lease(endpoint: WebhookEndpoint) -> timedelta:
    tries = 2 if endpoint.fallback_on_415 else 1
    return timedelta(seconds=endpoint.timeout_seconds) * tries + TRY_LEASE_SLACK


def prepare_lease(endpoint: WebhookEndpoint, links: list) -> timedelta:
    """The first attempt of a payload still to build: every link copied to the bucket, one after another at
    worst (its download budget, plus the upload time the transfers app grants a copy), then the tries."""
    copies = sum(
        download_budget(link.get("direct_url") or link.get("raw_url") or "", link.get("provider") or "")
        + CLAIM_UPLOAD_MARGIN_SECONDS
        for link in links
        if isinstance(link, dict)
    )
    return timedelta(seconds=copies) + try_lease(endpoint)


# --- claiming ----------------------------------------------------------------------------------------------
def deliveries_claim(free: int, *, turn: int = 0, now: datetime | None = None) -> ClaimRound:
    """Claim up to `free` due deliveries: test webhooks first, then each lane in turn (from `turn`).

    Reads first, and writes (in one transaction) only when some lane has something to take: an idle
    round takes no write lock.
    """
    now = now or timezone.now()
    result = ClaimRound()
    if free <= 0:
        return result
    endpoints = _endpoints_with_lanes()
    in_flight = dict(
        WebhookDelivery.objects.filter(status=Status.SENDING).values_list("endpoint_id").annotate(n=Count("pk"))
    )
    tests_due = _tests_due(now).exists()
    candidates = [e for e in endpoints if _admissible(e, in_flight.get(e.pk, 0), now, result)]
    if not tests_due and not candidates:
        return result
    with transaction.atomic():
        if tests_due:
            result.claims += _tests_claim(free, now)
        start = turn % len(candidates) if candidates else 0
        _lanes_claim(candidates[start:] + candidates[:start], free, now, result)
    return result


def _admissible(endpoint: WebhookEndpoint, in_flight: int, now: datetime, result: ClaimRound) -> bool:
    """The lane may take something now and has something due (both read without locking)."""
    hint = lanes.lane_admit(lane_of(endpoint.lane), lane_limits(endpoint), in_flight=in_flight, wanted=1, now=now)
    if not hint.count and hint.wait_until is None:
        return False  # full, or open until a probe ends: a finishing send wakes the loop, not a timer
    if not _due(endpoint.pk, now).exists():
        return False
    result.wait_for(hint.wait_until)
    return bool(hint.count)


def _lanes_claim(waiting: list, free: int, now: datetime, result: ClaimRound) -> None:
    while waiting and len(result.claims) < free:
        share = -(-(free - len(result.claims)) // len(waiting))  # ceil: every free slot is offered
        took_share = []
        for endpoint in waiting:
            wanted = min(share, free - len(result.claims))
            if wanted <= 0:
                break
            claims = _lane_claim(endpoint, wanted, now, result)
            result.claims += claims
            if len(claims) == wanted:
                took_share.append(endpoint)
        # Slots the other lanes left unused go round again to the lanes that took their whole share.
        waiting = took_share


def _endpoints_with_lanes() -> list[WebhookEndpoint]:
    """Active endpoints with their lane rows (created on first sight), in id order."""
    endpoints = list(WebhookEndpoint.objects.filter(is_active=True).select_related("lane").order_by("pk"))
    missing = [e for e in endpoints if not hasattr(e, "lane")]
    if missing:
        EndpointLane.objects.bulk_create([EndpointLane(endpoint=e) for e in missing], ignore_conflicts=True)
        lanes_by_id = EndpointLane.objects.in_bulk([e.pk for e in missing])
        for endpoint in missing:
            endpoint.lane = lanes_by_id[endpoint.pk]
    return endpoints


def _due(endpoint_id: int, now: datetime):
    """The lane's due deliveries; test webhooks have their own way out (_tests_claim)."""
    return WebhookDelivery.objects.filter(
        endpoint_id=endpoint_id, status=Status.PENDING, next_attempt_at__lte=now, is_test=False
    )


def _lane_claim(endpoint: WebhookEndpoint, wanted: int, now: datetime, result: ClaimRound) -> list[Claim]:
    """Take up to `wanted` of the lane's due deliveries, within its limits (in the round's transaction)."""
    row = EndpointLane.objects.select_for_update(skip_locked=True).filter(pk=endpoint.pk).first()
    if row is None:
        return []  # another worker is claiming from this lane right now
    limits = lane_limits(endpoint)
    in_flight = WebhookDelivery.objects.filter(endpoint_id=endpoint.pk, status=Status.SENDING).count()
    lane = lane_of(row)
    admission = lanes.lane_admit(lane, limits, in_flight=in_flight, wanted=wanted, now=now)
    result.wait_for(admission.wait_until)
    if not admission.count:
        return []
    claims = _rows_claim(_due(endpoint.pk, now), endpoint, admission.count, now, probe=admission.probe)
    if claims:
        probe_id = claims[0].delivery_id if admission.probe else None
        lane_store(row, lanes.lane_after_admission(lane, limits, admission, probe_id=probe_id, now=now))
    return claims


def _tests_due(now: datetime):
    return WebhookDelivery.objects.filter(is_test=True, status=Status.PENDING, next_attempt_at__lte=now)


def _tests_claim(free: int, now: datetime) -> list[Claim]:
    """Test webhooks go out at once, to any endpoint, whatever its lane says: staff are checking it."""
    due = _tests_due(now)
    claims = []
    wanted = Counter(due.order_by("next_attempt_at", "pk").values_list("endpoint_id", flat=True)[:free])
    for endpoint in WebhookEndpoint.objects.filter(pk__in=wanted):
        claims += _rows_claim(due.filter(endpoint=endpoint), endpoint, wanted[endpoint.pk], now, probe=False)
    return claims


def _rows_claim(due, endpoint: WebhookEndpoint, limit: int, now: datetime, *, probe: bool) -> list[Claim]:
    """Move up to `limit` of the due rows to `sending` under one claim token, oldest due first, and open
    the attempt each is about to make."""
    rows = list(
        due.select_for_update(skip_locked=True)
        .annotate(prepared=Case(When(payload_json="", then=Value(False)), default=Value(True)))
        .order_by("next_attempt_at", "pk")
        .values_list("pk", "prepared", "attempt_count", "series")[:limit]
    )
    if not rows:
        return []
    token = uuid.uuid4().hex
    by_lease = defaultdict(list)
    for pk, lease in _leases(endpoint, rows).items():
        by_lease[lease].append(pk)
    for lease, pks in by_lease.items():
        WebhookDelivery.objects.filter(pk__in=pks).update(
            status=Status.SENDING, claim_token=token, lease_expires_at=now + lease, last_attempt_at=now,
            attempt_count=F("attempt_count") + 1, series_attempt_count=F("series_attempt_count") + 1, updated_at=now,
        )
    DeliveryAttempt.objects.bulk_create(
        DeliveryAttempt(
            delivery_id=pk, number=attempts + 1, series=series, started_at=now, url=endpoint.url,
            delivery_mode=endpoint.delivery_mode,
        )
        for pk, _, attempts, series in rows
    )
    return [Claim(pk, endpoint.pk, token, attempt=attempts + 1, probe=probe) for pk, _, attempts, _ in rows]


def _leases(endpoint: WebhookEndpoint, rows: list) -> dict[int, timedelta]:
    """Each claimed row's lease: its tries, and first the copies of its links when its payload is still to
    build with the bucket on (SPEC §8)."""
    leases = {pk: try_lease(endpoint) for pk, *_ in rows}
    to_build = [pk for pk, prepared, *_ in rows if not prepared]
    if settings.R2_ENABLED and to_build:
        links = WebhookDelivery.objects.filter(pk__in=to_build).values_list("pk", "email__links")
        leases.update({pk: prepare_lease(endpoint, email_links or []) for pk, email_links in links})
    return leases
