"""The ingress pipeline (SPEC §3.2 steps 4-12): from a validated push to committed, enqueued deliveries."""

import logging
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from django.db import IntegrityError, transaction
from django.utils import timezone

from ingress import windows
from ingress.detectors import email_detect
from ingress.identity import email_id_compute, sender_email_parse
from ingress.links import links_extract
from ingress.models import InboundEmail
from ingress.ratelimit import sender_rate_check
from ingress.selectors import IngressConfig, email_is_known, ingress_config_get
from ingress.text import html_to_text
from routing.evaluation import RoutableEmail, rules_evaluate
from signal_server.logging import email_mask
from webhooks.services import deliveries_create

logger = logging.getLogger("ingress")

BODY_PREVIEW_CHARS = 200
WEEKDAY_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


@dataclass(frozen=True)
class InboundPush:
    """A push that passed field validation (SPEC §3.1)."""

    sender: str
    body: str
    subject: str = ""
    date: str = ""
    message_id: str = ""
    source: str = ""


@dataclass
class IngestResult:
    status_code: int
    body: dict
    headers: dict = field(default_factory=dict)


def _answer(status: str, email_id: str, **extra) -> IngestResult:
    return IngestResult(200, {"success": True, "status": status, "email_id": email_id, **extra})


def _refuse(status_code: int, message: str, **headers) -> IngestResult:
    return IngestResult(status_code, {"success": False, "message": message}, headers)


def sending_paused(config: IngressConfig, now_local: datetime) -> bool:
    if not config.sending_enabled:
        return True
    return config.absence_enabled and WEEKDAY_NAMES[now_local.weekday()] in config.absence_days


def email_ingest(push: InboundPush, *, now: datetime | None = None) -> IngestResult:
    """Decide what happens to a pushed e-mail; every 200 it answers is durably recorded first."""
    now = now or timezone.now()
    config = ingress_config_get()
    if not config.ingress_enabled:
        return _refuse(409, "Gmail ingress disabled")

    sender_email = sender_email_parse(push.sender)
    email_id = email_id_compute(
        subject=push.subject, sender_email=sender_email, date=push.date, message_id=push.message_id
    )
    retry_after = sender_rate_check(sender_email, config.rate_limit_per_sender_per_hour, now)
    if retry_after is not None:
        logger.warning("INGRESS: rate limit exceeded for %s", email_mask(sender_email))
        return _refuse(429, "Rate limit exceeded", **{"Retry-After": str(retry_after)})

    try:
        with transaction.atomic():
            return _ingest_in_transaction(push, config, sender_email, email_id, now)
    except IntegrityError:
        # A concurrent push of the same e-mail committed first: it owns the delivery set.
        if config.email_id_dedup_enabled and email_is_known(email_id):
            return _answer("already_processed", email_id)
        raise


def _ingest_in_transaction(
    push: InboundPush, config: IngressConfig, sender_email: str, email_id: str, now: datetime
) -> IngestResult:
    if config.email_id_dedup_enabled and email_is_known(email_id):
        logger.info("INGRESS: already processed email_id=%s", email_id)
        return _answer("already_processed", email_id)

    record = {
        "email_id": email_id,
        "dedup_key": email_id if config.email_id_dedup_enabled else None,
        "message_id": push.message_id,
        "sender": push.sender,
        "sender_email": sender_email,
        "subject": push.subject,
        "date": push.date,
        "body": push.body,
        "source": push.source,
    }

    if config.sender_allowlist and sender_email not in config.sender_allowlist:
        logger.info("INGRESS: sender not allowed %s email_id=%s", email_mask(sender_email), email_id)
        _email_record(record, InboundEmail.Status.SKIPPED_SENDER_NOT_ALLOWED, {"reason": "sender_not_allowed"})
        return _answer("skipped_sender_not_allowed", email_id)

    now_local = now.astimezone(ZoneInfo(config.time_zone))
    if sending_paused(config, now_local):
        reason = "sending_disabled" if not config.sending_enabled else f"absence_day:{WEEKDAY_NAMES[now_local.weekday()]}"
        logger.info("INGRESS: webhook sending disabled (%s) email_id=%s", reason, email_id)
        return _refuse(409, "Webhook sending disabled")

    text = html_to_text(push.body)
    links = links_extract(push.body)
    detection = email_detect(push.subject, text, links, now_local)
    window = windows.window_decide(
        detector=detection.detector,
        is_urgent=detection.is_urgent,
        start=config.window_start,
        end=config.window_end,
        policy=config.outside_window_policy,
        now_local=now_local,
    )
    record.update(
        body_preview=text[:BODY_PREVIEW_CHARS],
        detector=detection.detector or "",
        delivery_time=detection.delivery_time or "",
        is_urgent=detection.is_urgent,
        links=links,
        webhooks_time_start=window.webhooks_time_start or "",
        webhooks_time_end=window.webhooks_time_end or "",
    )
    decision = {
        "detector": detection.detector,
        "window": window.action,
        "local_time": now_local.isoformat(timespec="seconds"),
        "links": len(links),
    }

    if window.action == windows.REJECT:
        logger.info("INGRESS: %s email_id=%s detector=%s", window.message, email_id, detection.detector)
        return _refuse(409, window.message)
    if window.action == windows.SKIP:
        logger.info("INGRESS: outside time window, skipped email_id=%s", email_id)
        _email_record(record, InboundEmail.Status.SKIPPED_OUTSIDE_TIME_WINDOW, decision)
        return _answer("skipped_outside_time_window", email_id)
    if not links and not config.allow_without_links:
        logger.info("INGRESS: no provider link, skipped email_id=%s", email_id)
        _email_record(record, InboundEmail.Status.SKIPPED_NO_LINKS, decision)
        return _answer("skipped_no_links", email_id)

    routing = rules_evaluate(
        config.rules, RoutableEmail(sender=push.sender, subject=push.subject, body_text=text), config.default_endpoint_id
    )
    decision["matched_rules"] = list(routing.matched_rules)
    decision["endpoints"] = [t.endpoint_id for t in routing.targets]
    if routing.stopped and not routing.targets:
        logger.info("INGRESS: stopped by routing rule email_id=%s", email_id)
        _email_record(record, InboundEmail.Status.STOPPED_BY_ROUTING_RULE, decision)
        return _answer("stopped_by_routing_rule", email_id)

    deferred = window.action == windows.DEFER
    status = InboundEmail.Status.DEFERRED if deferred else InboundEmail.Status.PROCESSED
    email = _email_record(record, status, decision, deliver_after=window.deliver_after)
    deliveries = deliveries_create(email, routing.targets, run_after=window.deliver_after)
    if not deliveries:
        logger.warning("INGRESS: no active endpoint for email_id=%s (configure a default endpoint)", email_id)
    summary = [{"id": d.pk, "endpoint": config.active_endpoint_names.get(d.endpoint_id, "")} for d in deliveries]
    logger.info(
        "API INGRESS: Gmail push processed successfully email_id=%s sender=%s detector=%s deliveries=%d",
        email_id,
        email_mask(sender_email),
        detection.detector,
        len(deliveries),
    )
    if deferred:
        return _answer("deferred", email_id, deliver_after=window.deliver_after.isoformat(), deliveries=summary)
    return _answer("processed", email_id, deliveries=summary)


def _email_record(record: dict, status: str, decision: dict, deliver_after: datetime | None = None) -> InboundEmail:
    return InboundEmail.objects.create(**record, status=status, decision=decision, deliver_after=deliver_after)



# --- Re-running a recorded e-mail (admin action) ---------------------------------------------------


class EmailRerunRefused(Exception):
    """The e-mail cannot be re-run now; the message says why."""


@dataclass(frozen=True)
class RerunResult:
    email: InboundEmail
    created: tuple  # new WebhookDelivery rows
    kept: int  # target endpoints that already had a delivery for this e-mail


def email_rerun(email: InboundEmail, *, by: str = "", now: datetime | None = None) -> RerunResult:
    """Run a recorded e-mail through detection, the content gates and routing again, with today's configuration.

    An operator asking means "deliver now": the time window and absence days do not hold it back (the
    payload says `maintenant`), but the sending switch does. Deliveries are created only for target
    endpoints that have none for this e-mail yet, in one transaction with their tasks; existing ones are
    left as they are (replay those to resend them).
    """
    now = now or timezone.now()
    config = ingress_config_get()
    if not config.sending_enabled:
        raise EmailRerunRefused("Webhook sending is disabled.")
    with transaction.atomic():
        email = InboundEmail.objects.select_for_update().get(pk=email.pk)
        now_local = now.astimezone(ZoneInfo(config.time_zone))
        text = html_to_text(email.body)
        links = links_extract(email.body)
        detection = email_detect(email.subject, text, links, now_local)
        window_set = windows.window_state(config.window_start, config.window_end, now_local).configured
        email.body_preview = text[:BODY_PREVIEW_CHARS]
        email.detector = detection.detector or ""
        email.delivery_time = detection.delivery_time or ""
        email.is_urgent = detection.is_urgent
        email.links = links
        email.webhooks_time_start = "maintenant" if window_set else ""
        email.webhooks_time_end = config.window_end if window_set else ""
        rerun = {"at": now.isoformat(timespec="seconds"), "by": by, "detector": detection.detector, "links": len(links)}

        created: list = []
        kept = 0
        if config.sender_allowlist and email.sender_email not in config.sender_allowlist:
            email.status = InboundEmail.Status.SKIPPED_SENDER_NOT_ALLOWED
        elif not links and not config.allow_without_links:
            email.status = InboundEmail.Status.SKIPPED_NO_LINKS
        else:
            routing = rules_evaluate(
                config.rules,
                RoutableEmail(sender=email.sender, subject=email.subject, body_text=text),
                config.default_endpoint_id,
            )
            existing = set(email.deliveries.filter(is_test=False).values_list("endpoint_id", flat=True))
            new_targets = [t for t in routing.targets if t.endpoint_id not in existing]
            kept = len(routing.targets) - len(new_targets)
            created = deliveries_create(email, new_targets)
            rerun.update(matched_rules=list(routing.matched_rules), endpoints=[t.endpoint_id for t in routing.targets])
            if routing.stopped and not routing.targets:
                email.status = InboundEmail.Status.STOPPED_BY_ROUTING_RULE
            elif email.status != InboundEmail.Status.DEFERRED or created:
                email.status = InboundEmail.Status.PROCESSED
        rerun.update(status=email.status, created=[d.pk for d in created])
        email.decision = {**(email.decision or {}), "reruns": [*(email.decision or {}).get("reruns", []), rerun]}
        email.save()
    logger.info(
        "INGRESS: re-run email_id=%s status=%s deliveries created=%d kept=%d", email.email_id, email.status,
        len(created), kept,
    )
    return RerunResult(email=email, created=tuple(created), kept=kept)
