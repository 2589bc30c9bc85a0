"""`GET /metrics`: Prometheus text format, read from the database at scrape time.

Every web and worker process shares the database, so whichever process answers a scrape reports the
same figures: there are no per-process counters to add up. A scrape costs two scans of an index over the
whole history (e-mails by status, deliveries by endpoint and status), two ranges of an index over the last
hour (answer and attempt times), one read of the queue's partial index per active endpoint, and small
tables (endpoints and lanes, link pairs).
"""

import hmac
import ipaddress
import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.http import HttpResponse, JsonResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_PLAIN_0_0_4, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeHistogramMetricFamily, GaugeMetricFamily
from prometheus_client.utils import floatToGoString

from core.distributions import Histogram
from core.times import seconds_since
from ingress.models import InboundEmail
from ingress.selectors import answer_ms_histogram, email_counts_by_status
from transfers.models import LinkPair
from transfers.selectors import link_counts_by_status
from webhooks.models import WebhookDelivery
from webhooks.selectors import (
    attempt_ms_histograms,
    delivery_counts_by_endpoint_status,
    endpoint_lane_states,
    queue_oldest_due,
)

logger = logging.getLogger("ops.metrics")

# Answer and attempt times are counted over this recent window, an index range whatever the history.
WINDOW = timedelta(hours=1)
BUCKETS_SECONDS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
BUCKETS_MS = tuple(round(bound * 1000) for bound in BUCKETS_SECONDS)
LANE_STATES = ("closed", "open", "half_open", "disabled")
QUEUE_STATUSES = (WebhookDelivery.Status.PENDING, WebhookDelivery.Status.SENDING, WebhookDelivery.Status.PAUSED)

WINDOWED = (
    "A gauge histogram of the last hour, not a cumulative one: apply histogram_quantile() to the buckets "
    "directly, without rate()."
)


def _buckets(histogram: Histogram) -> list[tuple[str, int]]:
    """Prometheus' bucket labels (`le="1.0"`, as its own histograms write them) with their cumulative counts."""
    bounds, counts = [*BUCKETS_SECONDS, float("inf")], [*histogram.buckets, histogram.count]
    return [(floatToGoString(bound), count) for bound, count in zip(bounds, counts, strict=True)]


class DatabaseCollector:
    """The service's figures, computed from the database each time Prometheus scrapes."""

    def __init__(self, now: datetime | None = None):
        self.now = now

    def collect(self):
        now = self.now or timezone.now()
        yield from self._ingress(now)
        lanes = endpoint_lane_states(now)
        names = {endpoint.pk: endpoint.name for endpoint, _ in lanes}
        yield from self._deliveries(names, now)
        yield self._attempt_durations(names, now)
        yield self._lanes(lanes)
        yield self._offloads()

    def _ingress(self, now: datetime):
        pushes = CounterMetricFamily(
            "signal_ingress_pushes",
            "E-mails the ingress recorded, by answer status. Refusals record nothing and are not counted "
            "(400, 401, 409, 413, 429, 503), nor are already_processed answers; purge_history lowers the count.",
            labels=["status"],
        )
        counts = email_counts_by_status()
        for status in InboundEmail.Status.values:
            pushes.add_metric([status], counts.get(status, 0))
        yield pushes
        answers = GaugeHistogramMetricFamily(
            "signal_ingress_answer_duration_seconds",
            "Time from a push request's start to its decision, measured by the web process, for the e-mails "
            f"recorded in the last hour. {WINDOWED}",
            labels=[],
        )
        histogram = answer_ms_histogram(now - WINDOW, BUCKETS_MS) or Histogram((), (0,) * len(BUCKETS_MS), 0, 0)
        answers.add_metric([], _buckets(histogram), gsum_value=histogram.total / 1000)
        yield answers

    def _deliveries(self, names: dict[int, str], now: datetime):
        deliveries = GaugeMetricFamily(
            "signal_deliveries",
            "Deliveries by endpoint and status now (test sends included). A gauge: a replay moves a failed "
            "delivery back to pending, and purge_history removes old ones.",
            labels=["endpoint", "status"],
        )
        queue = dict.fromkeys(QUEUE_STATUSES, 0)
        for endpoint_id, status, count in delivery_counts_by_endpoint_status():
            deliveries.add_metric([names.get(endpoint_id, str(endpoint_id)), status], count)
            if status in queue:
                queue[status] += count
        yield deliveries
        depth = GaugeMetricFamily(
            "signal_queue_deliveries", "Deliveries waiting: pending, sending, or paused (endpoint inactive).",
            labels=["status"],
        )
        for status, count in queue.items():
            depth.add_metric([status], count)
        yield depth
        yield GaugeMetricFamily(
            "signal_queue_oldest_due_age_seconds",
            "How long the oldest due delivery of a lane that may send has waited (0: none waits); what "
            "/health/ready compares with HEALTH_QUEUE_MAX_AGE_SECONDS.",
            value=seconds_since(queue_oldest_due(now), now) or 0.0,
        )

    def _attempt_durations(self, names: dict[int, str], now: datetime):
        durations = GaugeHistogramMetricFamily(
            "signal_delivery_attempt_duration_seconds",
            "Duration of the HTTP attempts started in the last hour and finished, per endpoint and outcome "
            f"(succeeded, failed; timeouts included), test sends excluded. {WINDOWED}",
            labels=["endpoint", "outcome"],
        )
        for histogram in attempt_ms_histograms(now - WINDOW, BUCKETS_MS):
            endpoint_id, succeeded = histogram.key
            labels = [names.get(endpoint_id, str(endpoint_id)), "succeeded" if succeeded else "failed"]
            durations.add_metric(labels, _buckets(histogram), gsum_value=histogram.total / 1000)
        return durations

    def _lanes(self, lanes):
        states = GaugeMetricFamily(
            "signal_endpoint_lane_state",
            "Each endpoint's lane: 1 for its current state (closed: sending; open: circuit breaker waiting; "
            "half_open: probing; disabled: endpoint inactive), 0 for the others.",
            labels=["endpoint", "state"],
        )
        for endpoint, current in lanes:
            for state in LANE_STATES:
                states.add_metric([endpoint.name, state], 1 if state == current else 0)
        return states

    def _offloads(self):
        offloads = GaugeMetricFamily(
            "signal_offload_links",
            "Provider links copied to the bucket, by outcome now (pending, stored, failed).",
            labels=["status"],
        )
        counts = link_counts_by_status()
        for status in LinkPair.Status.values:
            offloads.add_metric([status], counts.get(status, 0))
        return offloads


def metrics_render(now: datetime | None = None) -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(DatabaseCollector(now))
    return generate_latest(registry)


def metrics_access(authorization: str, remote_addr: str) -> int:
    """200 when the request may read the metrics, else the status refusing it: 404 while neither a token nor
    an allowlist is configured, 401 without the right token, 403 from an address outside the allowlist."""
    token, networks = settings.METRICS_TOKEN, settings.METRICS_ALLOWED_NETWORKS
    if not token and not networks:
        return 404
    scheme, _, given = authorization.partition(" ")
    if token and scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode()):
        return 200
    if networks and _address_allowed(remote_addr, networks):
        return 200
    return 401 if token else 403


def _address_allowed(remote_addr: str, networks) -> bool:
    try:
        address = ipaddress.ip_address(remote_addr)
    except ValueError:
        return False
    address = getattr(address, "ipv4_mapped", None) or address  # ::ffff:10.0.0.1 is 10.0.0.1
    return any(address in network for network in networks)


REFUSALS = {401: "Unauthorized", 403: "Forbidden", 404: "Not found"}


@require_GET
@never_cache
def metrics_view(request):
    status = metrics_access(request.META.get("HTTP_AUTHORIZATION", ""), request.META.get("REMOTE_ADDR", ""))
    if status != 200:
        response = JsonResponse({"success": False, "message": REFUSALS[status]}, status=status)
        if status == 401:
            response["WWW-Authenticate"] = 'Bearer realm="metrics"'
            logger.warning("METRICS: 401 Unauthorized from %s", request.META.get("REMOTE_ADDR", "?"))
        return response
    return HttpResponse(metrics_render(), content_type=CONTENT_TYPE_PLAIN_0_0_4)
