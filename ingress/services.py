"""The ingress pipeline (SPEC §3.2 steps 4-12): from a validated push to committed, enqueued deliveries."""

import logging
import time
from dataclasses import dataclass, field, replace
from datetime import datetime
from zoneinfo import ZoneInfo

from django.db import IntegrityError, transaction
from django.utils import timezone

from configuration.snapshot import IngressConfig, ingress_config_get
from core.addresses import email_mask, sender_email_parse
from core.text import html_to_text
from core.times import WEEKDAYS
from infrastructure.inserts import row_insert
from ingress import windows
from ingress.detectors import email_detect
from ingress.identity import email_id_compute
from ingress.links import links_extract
from ingress.models import InboundEmail
from ingress.ratelimit import sender_rate_check
from ingress.selectors import email_is_known
from routing.evaluation import RoutableEmail, RoutingDecision, rules_evaluate
from webhooks.services.deliveries import deliveries_create

logger = logging.getLogger("ingress")

BODY_PREVIEW_CHARS = 200


@dataclass(frozen=True)
class InboundPush:
    """A push that passed field validation (SPEC §3.1)."""

    sender: str
    body: str
    subject: str = ""
    date: str = ""
    message_id: str = ""
    source: str = ""
    # Optional facts newer Apps Scripts send (all empty from older ones):
    # {"to": [...], "cc": [...], "reply_to": [...], "delivered_to": [...]}, canonical addresses each;
    recipients: dict = field(default_factory=dict)
    # allowlisted headers, lower-case name -> value; and attachment metadata ({name, size, content_type}).
    headers: dict = field(default_factory=dict)
    attachments: tuple = ()


@dataclass
class IngestResult:
    status_code: int
    body: dict
    headers: dict = field(default_factory=dict)

    @classmethod
    def refused(cls, status_code: int, message: str, **headers) -> "IngestResult":
        """The legacy refusal body: {"success": false, "message": …}."""
        return cls(status_code, {"success": False, "message": message}, headers)


def _answer(status: str, email_id: str, **extra) -> IngestResult:
    return IngestResult(200, {"success": True, "status": status, "email_id": email_id, **extra})


def sending_paused(config: IngressConfig, now_local: datetime) -> bool:
    if not config.sending_enabled:
        return True
    return config.absence_enabled and WEEKDAYS[now_local.weekday()] in config.absence_days


@dataclass(frozen=True)
class IngressDecision:
    """What SPEC §3.2 steps 7-12 decide for an e-mail not seen before, computed without the database."""

    status: str  # an InboundEmail.Status to record, or "" for a 409 refusal
    record: dict = field(default_factory=dict)
    message: str = ""
    targets: tuple = ()
    deliver_after: datetime | None = None
    routing: RoutingDecision | None = None


def email_decide(
    push: InboundPush, config: IngressConfig, *, sender_email: str, email_id: str, now: datetime
) -> IngressDecision:
    """Allowlist, sending switch and absence, detection and window, links policy, routing: pure, in that order."""
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
        "recipients": push.recipients,
        "headers": push.headers,
        "attachments": list(push.attachments),
    }
    if config.sender_allowlist and sender_email not in config.sender_allowlist:
        return IngressDecision(
            InboundEmail.Status.SKIPPED_SENDER_NOT_ALLOWED, record | {"decision": {"reason": "sender_not_allowed"}}
        )

    now_local = now.astimezone(ZoneInfo(config.time_zone))
    if sending_paused(config, now_local):
        return IngressDecision("", message="Webhook sending disabled")

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
    decision = {
        "detector": detection.detector,
        "window": window.action,
        "local_time": now_local.isoformat(timespec="seconds"),
        "links": len(links),
    }
    record |= {
        "body_preview": text[:BODY_PREVIEW_CHARS],
        "detector": detection.detector or "",
        "delivery_time": detection.delivery_time or "",
        "is_urgent": detection.is_urgent,
        "links": links,
        "webhooks_time_start": window.webhooks_time_start or "",
        "webhooks_time_end": window.webhooks_time_end or "",
        "decision": decision,
    }
    if window.action == windows.REJECT:
        return IngressDecision("", message=window.message)
    if window.action == windows.SKIP:
        return IngressDecision(InboundEmail.Status.SKIPPED_OUTSIDE_TIME_WINDOW, record)
    if not links and not config.allow_without_links:
        return IngressDecision(InboundEmail.Status.SKIPPED_NO_LINKS, record)

    routable = RoutableEmail.of(
        sender=push.sender, subject=push.subject, body_text=text, sender_email=sender_email,
        detector=detection.detector, is_urgent=detection.is_urgent, links=links,
        recipients=push.recipients, headers=push.headers,
    )
    routing = rules_evaluate(config.rules, routable, config.default_endpoint_id)
    decision.update(routing.as_record())
    paused = [t.endpoint_id for t in routing.targets if t.endpoint_id in config.inactive_endpoint_ids]
    if paused:
        decision["paused_endpoints"] = paused
    if routing.stopped and not routing.targets:
        return IngressDecision(InboundEmail.Status.STOPPED_BY_ROUTING_RULE, record, routing=routing)
    if not routing.targets:
        # Not recorded: the script keeps its label and pushes the e-mail again once an endpoint exists.
        return IngressDecision("", message="No active endpoint", routing=routing)
    if window.action == windows.DEFER:
        return IngressDecision(
            InboundEmail.Status.DEFERRED,
            record,
            targets=routing.targets,
            deliver_after=window.deliver_after,
            routing=routing,
        )
    return IngressDecision(InboundEmail.Status.PROCESSED, record, targets=routing.targets, routing=routing)


def email_ingest(push: InboundPush, *, now: datetime | None = None, started: float | None = None) -> IngestResult:
    """Decide what happens to a pushed e-mail; every 200 it answers is durably recorded first.

    `started` is the `time.perf_counter()` of the request's start: the e-mail's row records the
    milliseconds from then to its decision (`answer_ms`), from this call's start without it.
    """
    started = time.perf_counter() if started is None else started
    now = now or timezone.now()
    config = ingress_config_get()
    if not config.ingress_enabled:
        return IngestResult.refused(409, "Gmail ingress disabled")

    sender_email = sender_email_parse(push.sender)
    email_id = email_id_compute(
        subject=push.subject, sender_email=sender_email, date=push.date, message_id=push.message_id
    )
    retry_after = sender_rate_check(sender_email, config.rate_limit_per_sender_per_hour, now)
    if retry_after is not None:
        logger.warning("INGRESS: rate limit exceeded for %s", email_mask(sender_email))
        return IngestResult.refused(429, "Rate limit exceeded", **{"Retry-After": str(retry_after)})

    # Everything pure happens before the transaction, which then holds the write lock only for the writes.
    decided = email_decide(push, config, sender_email=sender_email, email_id=email_id, now=now)
    try:
        with transaction.atomic():
            # A refusal writes nothing, so it looks the e-mail up; a write relies on the unique dedup key.
            if not decided.status and config.email_id_dedup_enabled and email_is_known(email_id):
                return _already_processed(email_id)
            return _decision_apply(decided, config, email_id, started)
    except IntegrityError:
        # Seen before, or a concurrent push of the same e-mail committed first and owns the delivery set.
        if config.email_id_dedup_enabled and email_is_known(email_id):
            return _already_processed(email_id)
        raise


def _already_processed(email_id: str) -> IngestResult:
    logger.info("INGRESS: already processed email_id=%s", email_id)
    return _answer("already_processed", email_id)


def _decision_apply(decided: IngressDecision, config: IngressConfig, email_id: str, started: float) -> IngestResult:
    if not decided.status:
        if decided.message == "No active endpoint":
            logger.warning("INGRESS: no endpoint for email_id=%s: configure a default endpoint", email_id)
        else:
            logger.info("INGRESS: %s email_id=%s", decided.message, email_id)
        return IngestResult.refused(409, decided.message)
    answer_ms = round((time.perf_counter() - started) * 1000)  # written by the INSERT below: no query of its own
    email = row_insert(
        InboundEmail(**decided.record, status=decided.status, deliver_after=decided.deliver_after, answer_ms=answer_ms)
    )
    if decided.routing is not None:
        for rule in decided.routing.matched_rules:
            logger.info("ROUTING_RULES: Matched rule %s (%s) email_id=%s", rule["id"], rule["name"], email_id)
        for warning in decided.routing.warnings:
            logger.warning("ROUTING_RULES: %s email_id=%s", warning, email_id)
    if decided.status not in (InboundEmail.Status.PROCESSED, InboundEmail.Status.DEFERRED):
        logger.info("INGRESS: %s email_id=%s", decided.status, email_id)
        return _answer(decided.status, email_id)

    deliveries = deliveries_create(
        email, decided.targets, inactive_ids=config.inactive_endpoint_ids, run_after=decided.deliver_after
    )
    summary = [{"id": d.pk, "endpoint": config.endpoint_names.get(d.endpoint_id, "")} for d in deliveries]
    logger.info(
        "API INGRESS: Gmail push processed successfully email_id=%s sender=%s detector=%s deliveries=%d",
        email_id,
        email_mask(email.sender_email),
        email.detector or None,
        len(deliveries),
    )
    if decided.status == InboundEmail.Status.DEFERRED:
        return _answer("deferred", email_id, deliver_after=decided.deliver_after.isoformat(), deliveries=summary)
    return _answer("processed", email_id, deliveries=summary)


# --- Re-running a recorded e-mail (admin action) ---------------------------------------------------

RERUN_FIELDS = ("body_preview", "detector", "delivery_time", "is_urgent", "links")
RERUN_DECISION_KEYS = ("reason", "detector", "links", "matched_rules", "endpoints")


class EmailRerunRefused(Exception):
    """The e-mail cannot be re-run now; the message says why."""


@dataclass(frozen=True)
class RerunResult:
    email: InboundEmail
    created: tuple  # new WebhookDelivery rows
    kept: int  # target endpoints that already had a delivery for this e-mail


def email_rerun(email: InboundEmail, *, by: str = "", now: datetime | None = None) -> RerunResult:
    """Run a recorded e-mail through the pipeline's decision again, with today's configuration.

    An operator asking means "deliver now": the time window and absence days do not hold it back (the
    payload says `maintenant` when a window is set), but the sending switch does. Deliveries are created,
    in one transaction, only for target endpoints that have none for this e-mail yet; existing ones are
    left as they are (replay those to resend them).
    """
    now = now or timezone.now()
    config = ingress_config_get()
    no_time_gates = replace(config, window_start="", window_end="", absence_enabled=False)
    with transaction.atomic():
        email = InboundEmail.objects.select_for_update().get(pk=email.pk)
        push = InboundPush(
            sender=email.sender, body=email.body, subject=email.subject, date=email.date,
            message_id=email.message_id, source=email.source, recipients=email.recipients, headers=email.headers,
            attachments=tuple(email.attachments),
        )
        decided = email_decide(push, no_time_gates, sender_email=email.sender_email, email_id=email.email_id, now=now)
        if not decided.status:
            raise EmailRerunRefused(f"{decided.message}.")
        _rerun_fields_apply(email, decided, config)
        existing = set(email.deliveries.filter(is_test=False).values_list("endpoint_id", flat=True))
        new_targets = [t for t in decided.targets if t.endpoint_id not in existing]
        created = deliveries_create(email, new_targets, inactive_ids=config.inactive_endpoint_ids)
        _rerun_status_record(email, decided, created, now=now, by=by)
        email.save()
    kept = len(decided.targets) - len(new_targets)
    logger.info(
        "INGRESS: re-run email_id=%s status=%s deliveries created=%d kept=%d", email.email_id, email.status,
        len(created), kept,
    )
    return RerunResult(email=email, created=tuple(created), kept=kept)


def _rerun_fields_apply(email: InboundEmail, decided: IngressDecision, config: IngressConfig) -> None:
    """What the new decision recomputed (detection, links, delivery times); sent now, whatever the window."""
    for name in RERUN_FIELDS:
        if name in decided.record:
            setattr(email, name, decided.record[name])
    if "links" in decided.record:
        window_set = bool(config.window_start and config.window_end)
        email.webhooks_time_start = "maintenant" if window_set else ""
        email.webhooks_time_end = config.window_end if window_set else ""


def _rerun_status_record(email: InboundEmail, decided: IngressDecision, created: list, *, now, by: str) -> None:
    """The e-mail's new status, and the re-run appended to its decision's history."""
    # A deferred e-mail whose deliveries all exist keeps waiting for its window.
    still_deferred = email.status == InboundEmail.Status.DEFERRED and not created
    if not (still_deferred and decided.status == InboundEmail.Status.PROCESSED):
        email.status = decided.status
    verdict = decided.record.get("decision", {})
    rerun = {
        "at": now.isoformat(timespec="seconds"), "by": by, "status": email.status, "created": [d.pk for d in created],
        **{k: verdict[k] for k in RERUN_DECISION_KEYS if k in verdict},
    }
    email.decision = {**email.decision, "reruns": [*email.decision.get("reruns", []), rerun]}
