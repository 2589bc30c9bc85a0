"""Telling operators of alerts (docs/alerts.md): an e-mail to ALERT_EMAILS through Django's mailer, and a
signed POST (Standard Webhooks) to every active endpoint flagged `receives_alerts`.

The delivery worker's loop thread only queues notifications: one thread of the process sends them, each
try bounded in time (the mailer's timeout, the endpoint's), and records its outcome. A notification that
cannot be sent is recorded with its error, and never holds back a delivery.
"""

import json
import logging
import queue
import threading

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import close_old_connections
from django.utils import timezone

from ops.services import Notice, alert_notification_record
from webhooks import signing
from webhooks.models import WebhookEndpoint
from webhooks.transport import webhook_post

logger = logging.getLogger("ops.alerts")

QUEUE_MAX = 1000
SUBJECT_PREFIX = {"alert.raised": "ALERT", "alert.resolved": "RESOLVED"}


def notice_send(notice: Notice) -> None:
    """Every channel, one try each, each outcome recorded."""
    if settings.ALERT_EMAILS:
        _record(notice, "email", _email_send(notice))
    body = json.dumps(notice.body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    for endpoint in WebhookEndpoint.objects.filter(receives_alerts=True, is_active=True).order_by("pk"):
        _record(notice, f"webhook:{endpoint.name}", _webhook_send(endpoint, notice, body))


def _record(notice: Notice, channel: str, error: str) -> None:
    if error:
        logger.error("ALERT: %s of alert #%s by %s not sent: %s", notice.event, notice.alert_id, channel, error)
    alert_notification_record(notice, channel=channel, error=error)


def email_text(notice: Notice) -> tuple[str, str]:
    """The e-mail's subject and plain-text body."""
    data = notice.body["data"]
    subject = f"[Signal Server] {SUBJECT_PREFIX[notice.event]}: {data['message']}"
    lines = [
        data["message"],
        "",
        f"kind: {data['kind']}",
        f"subject: {data['subject']['type']} {data['subject']['label']}",
        f"first seen: {data['first_seen_at']}",
        f"last seen: {data['last_seen_at']}",
        f"times raised: {data['count']}",
        f"{notice.body['type']} at {notice.body['occurred_at']}",
    ]
    return subject[:200], "\n".join(lines) + "\n"


def _email_send(notice: Notice) -> str:
    subject, text = email_text(notice)
    try:
        EmailMessage(subject, text, settings.DEFAULT_FROM_EMAIL, settings.ALERT_EMAILS).send()
    except Exception as exc:  # the mail server's refusal, or the network's: recorded, never raised
        return f"{type(exc).__name__}: {exc}"
    return ""


def _webhook_send(endpoint: WebhookEndpoint, notice: Notice, body: bytes) -> str:
    """The POST, through the deliveries' transport (SSRF check, pinned address, hard timeout)."""
    now = timezone.now()
    headers = {
        **endpoint.headers,
        "Content-Type": "application/json",
        "User-Agent": settings.WEBHOOK_USER_AGENT,
        "Accept": "application/json, text/plain, */*",
    }
    secrets = endpoint.signing_secrets(now)
    if secrets:
        headers.update(signing.signature_headers(secrets, notice.message_id, body, now))
    try:
        result = webhook_post(
            endpoint.url, body=body, headers=headers, timeout=endpoint.timeout_seconds, verify_tls=endpoint.verify_tls
        )
    except Exception as exc:
        return f"internal error: {type(exc).__name__}: {exc}"
    if result.error:
        return result.error
    if result.status_code is None or not 200 <= result.status_code < 300:
        return f"HTTP {result.status_code}"
    return ""


class Notifier:
    """The process's sending thread, started on the first notification."""

    def __init__(self):
        self._queue: queue.Queue = queue.Queue(maxsize=QUEUE_MAX)
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def submit(self, notices: list[Notice]) -> None:
        """Queue the notifications; never waits."""
        for notice in notices:
            try:
                self._queue.put_nowait(notice)
            except queue.Full:
                logger.error("ALERT: too many notifications waiting; %s of alert #%s dropped", notice.event,
                             notice.alert_id)
        if notices:
            self._start()

    def wait_idle(self, timeout: float) -> bool:
        """Whether every queued notification was sent within `timeout` seconds (tests, stopping)."""
        with self._queue.all_tasks_done:
            return self._queue.all_tasks_done.wait_for(lambda: not self._queue.unfinished_tasks, timeout)

    def _start(self) -> None:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="alert-notifier", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        while True:
            notice = self._queue.get()
            try:
                close_old_connections()
                notice_send(notice)
            except Exception:
                logger.exception("ALERT: %s of alert #%s could not be sent", notice.event, notice.alert_id)
            finally:
                self._queue.task_done()
