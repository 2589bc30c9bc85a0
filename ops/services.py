"""Ops writes: raising and resolving alerts (docs/alerts.md), the lease that lets one delivery worker at a
time evaluate them, and the record of each notification try.

The rules themselves are pure functions (ops.alert_rules); this module applies what they find to the
Alert rows, in one short transaction, and says which notifications are due. Sending them is
ops.notifications' work, off the worker's loop thread.
"""

import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.db import transaction
from django.utils import timezone

from ops import alert_rules
from ops.alert_rules import NOTIFY_AT_MOST_EVERY, Finding, Kind
from ops.models import Alert, AlertLease, AlertNotification
from ops.selectors import alerts_open_keys, service_state_read

logger = logging.getLogger("ops.alerts")

Event = AlertNotification.Event


@dataclass(frozen=True)
class Notice:
    """A notification to send on every channel: the documented JSON body and its webhook-id."""

    alert_id: int
    event: str
    body: dict
    message_id: str


def notice_build(alert: Alert, event: str, now: datetime) -> Notice:
    service = alert.subject_type == Alert.SubjectType.SERVICE
    body = {
        "type": event,
        "occurred_at": _iso(now),
        "data": {
            "kind": alert.kind,
            "subject": {"type": alert.subject_type, "id": None if service else alert.subject_id,
                        "label": alert.subject_label},
            "count": alert.count,
            "first_seen_at": _iso(alert.first_seen_at),
            "last_seen_at": _iso(alert.last_seen_at),
            "message": alert.message,
        },
    }
    return Notice(alert.pk, event, body, f"msg_{uuid.uuid4().hex}")


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds")


def alert_lease_take(holder: str, *, seconds: float, now: datetime | None = None) -> bool:
    """Whether `holder` evaluates the alerts now: it holds the lease, or takes it once it has run out.

    Read first: a worker that sees another's valid lease writes nothing (SQLite's write lock stays free).
    """
    now = now or timezone.now()
    holder = holder[:64]
    lease = AlertLease.objects.filter(pk=1).first() or AlertLease.objects.get_or_create(pk=1)[0]
    if lease.holder not in ("", holder) and lease.expires_at is not None and lease.expires_at > now:
        return False
    taken = AlertLease.objects.filter(pk=1, holder=lease.holder, expires_at=lease.expires_at).update(
        holder=holder, expires_at=now + timedelta(seconds=seconds)
    )
    return taken == 1


def alerts_evaluate(now: datetime | None = None) -> list[Notice]:
    """Raise the alerts the rules find, resolve the open ones they no longer find; the notifications due."""
    now = now or timezone.now()
    state = service_state_read(now)
    due = {finding.key: finding for finding in alert_rules.alerts_due(state)}
    notices: list[Notice] = []
    with transaction.atomic():
        opened = alerts_open_keys()
        lanes_open = {subject_id for kind, _, subject_id in opened if kind == Kind.ENDPOINT_LANE_OPEN}
        recovered = {f.subject_id: f for f in alert_rules.endpoints_recovered(state, lanes_open)}
        for key, finding in due.items():
            notices += _raise(finding, opened.get(key), now)
        for key, alert in opened.items():
            if key not in due:
                lane = key[0] == Kind.ENDPOINT_LANE_OPEN
                notices += _resolve(alert, now, recovered.get(alert.subject_id) if lane else None)
    return notices


def _raise(finding: Finding, alert: Alert | None, now: datetime) -> list[Notice]:
    if alert is None:
        alert = _reopened(finding, now) or Alert(
            kind=finding.kind, subject_type=finding.subject_type, subject_id=finding.subject_id, first_seen_at=now,
        )
        logger.warning("ALERT: %s (%s): %s", finding.kind, finding.label, finding.message)
    alert.subject_label, alert.message, alert.last_seen_at = finding.label[:200], finding.message[:500], now
    tell = alert_rules.notify_raised(
        last_notified_at=alert.last_notified_at, notified_open=alert.notified_open, now=now
    )
    if tell:
        alert.last_notified_at, alert.notified_open = now, True
    alert.save()
    return [notice_build(alert, Event.RAISED, now)] if tell else []


def _reopened(finding: Finding, now: datetime) -> Alert | None:
    """The same trouble resolved a short while ago comes back: its row opens again, counted."""
    alert = (
        Alert.objects.filter(
            kind=finding.kind, subject_type=finding.subject_type, subject_id=finding.subject_id,
            resolved_at__gte=now - NOTIFY_AT_MOST_EVERY,
        )
        .order_by("-resolved_at")
        .first()
    )
    if alert is not None:
        alert.resolved_at, alert.count = None, alert.count + 1
    return alert


def _resolve(alert: Alert, now: datetime, recovery: Finding | None) -> list[Notice]:
    """Resolve the alert; its resolution is told when its raise was. An endpoint's lane that closed again
    is recorded as an endpoint_recovered alert, born resolved, which is what is told."""
    told = alert.notified_open
    alert.resolved_at, alert.notified_open = now, False
    alert.save(update_fields=["resolved_at", "notified_open"])
    logger.warning("ALERT: %s (%s) resolved", alert.kind, alert.subject_label)
    if recovery is None:
        return [notice_build(alert, Event.RESOLVED, now)] if told else []
    recovered = Alert.objects.create(
        kind=recovery.kind, subject_type=recovery.subject_type, subject_id=recovery.subject_id,
        subject_label=recovery.label[:200], message=recovery.message[:500], first_seen_at=alert.first_seen_at,
        last_seen_at=now, resolved_at=now, last_notified_at=now if told else None,
    )
    return [notice_build(recovered, Event.RESOLVED, now)] if told else []


def alert_notification_record(notice: Notice, *, channel: str, error: str = "") -> AlertNotification:
    """One channel's try at a notification: sent, or the error that stopped it."""
    return AlertNotification.objects.create(
        alert_id=notice.alert_id, event=notice.event, channel=channel[:120], sent_at=timezone.now(),
        succeeded=not error, error=error[:500],
    )
