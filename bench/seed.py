"""Realistic history in bulk, for `make bench-scale`: e-mails, their deliveries and attempts over 90 days.

Each e-mail has a ~2 KB HTML body with provider links; e-mails that were routed have one delivery to
the default endpoint, with one or two attempts. The mix is exact per block of 100 e-mails (the
`KINDS` table, shuffled once, so the statuses do not repeat in a visible pattern) and ids grow with
time, as in a real history.

Rows are written with multi-row INSERTs, a transaction per chunk, straight from the models' own columns and
defaults (a column added by a later migration gets its default), because `bulk_create` would
replace the recorded timestamps with "now" and is several times slower. The ids are chosen here, so
the deliveries know their e-mail without reading it back; PostgreSQL's sequences are moved past
them at the end.
"""

import hashlib
import json
import random
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.core.management.color import no_style
from django.db import DEFAULT_DB_ALIAS, connection, connections, models, transaction
from django.utils import timezone

from ingress.models import InboundEmail
from webhooks.models import DeliveryAttempt, WebhookDelivery, WebhookEndpoint
from webhooks.payloads import payload_build, payload_serialize

CHUNK = 5000
DAYS = 90
RETRY_WAIT_WINDOW = timedelta(days=1)  # only e-mails this recent can still wait for a retry

Status = InboundEmail.Status
Delivery = WebhookDelivery.Status


@dataclass(frozen=True)
class Kind:
    """What happened to one e-mail: its status, its delivery's status and its attempts' HTTP answers
    (None: a network error)."""

    status: str
    delivery: str | None = None
    answers: tuple = ()


# Per 100 e-mails. A retry still waiting (pending) is only plausible for a recent e-mail: older ones
# with that kind are recorded as failed after their two attempts.
KINDS = (
    [Kind(Status.PROCESSED, Delivery.SUCCEEDED, (200,))] * 70
    + [Kind(Status.PROCESSED, Delivery.SUCCEEDED, (503, 200))] * 6
    + [Kind(Status.PROCESSED, Delivery.FAILED, (400,))] * 2
    + [Kind(Status.PROCESSED, Delivery.FAILED, (500, None))] * 3
    + [Kind(Status.PROCESSED, Delivery.PENDING, (502,))] * 2
    + [Kind(Status.PROCESSED, Delivery.CANCELLED, (500,))] * 2
    + [Kind(Status.DEFERRED, Delivery.SUCCEEDED, (200,))] * 5
    + [Kind(Status.SKIPPED_OUTSIDE_TIME_WINDOW)] * 5
    + [Kind(Status.SKIPPED_NO_LINKS)] * 3
    + [Kind(Status.SKIPPED_SENDER_NOT_ALLOWED)] * 2
)
assert len(KINDS) == 100

SENDERS = (
    ("Technique <technique@media-solution.fr>", "technique@media-solution.fr"),
    ("Planning Média Solution <planning@media-solution.fr>", "planning@media-solution.fr"),
    ("Service client <clients@studio-lumiere.fr>", "clients@studio-lumiere.fr"),
    ("Julie Martin <julie.martin@gmail.com>", "julie.martin@gmail.com"),
)
LINKS = (  # provider, link, direct download URL
    ("dropbox", "https://www.dropbox.com/scl/fo/{t}/AAB{t}?rlkey={t}&dl=0",
     "https://www.dropbox.com/scl/fo/{t}/AAB{t}?rlkey={t}&dl=1"),
    ("fromsmash", "https://fromsmash.com/{t}", "https://fromsmash.com/{t}"),
    ("swisstransfer", "https://www.swisstransfer.com/d/{t}", "https://www.swisstransfer.com/d/{t}"),
    ("wetransfer", "https://wetransfer.com/downloads/{t}/{t}", "https://wetransfer.com/downloads/{t}/{t}"),
)
PARAGRAPH = (
    "<p>Bonjour,</p><p>Veuillez trouver ci-dessous les fichiers de la mission. Merci de vérifier les cadrages, "
    "la colorimétrie et les légendes avant livraison ; les retouches éventuelles sont à signaler dans la "
    "journée. Les visuels validés partent ensuite chez l'imprimeur avec le bon de commande habituel.</p>"
)
# Placeholders replaced per e-mail in the body, the links and the frozen payload built once per template.
EMAIL_ID, TOKEN, NUMBER = "e" * 32, "tok3n5ample", "9876543210"


@dataclass
class Template:
    subject: str
    detector: str
    body: str
    links: list = field(default_factory=list)
    payload: str = ""


def templates_build() -> list[Template]:
    """A few e-mail shapes, each with its frozen payload built by the real payload code once."""
    shapes = [
        (f"Média Solution - Missions Recadrage - Lot {NUMBER}", "recadrage", "<p>À faire pour 14h30</p>"),
        (f"Média Solution - Missions Recadrage - Lot {NUMBER} URGENCE", "recadrage", "<p>Urgence</p>"),
        (f"Fichiers du jour {NUMBER}", "", ""),
        (f"Désabonnement journée {NUMBER}", "desabonnement_journee_tarifs",
         "<p>Journée aux tarifs habituels, désabonnement demandé.</p>"),
    ]
    built = []
    for index, (subject, detector, lead) in enumerate(shapes):
        provider, raw, direct = (part.replace("{t}", TOKEN) for part in LINKS[index % len(LINKS)])
        anchor = f'<a href="{raw.replace("&", "&amp;")}">Fichiers {provider}</a>'
        body = f'<div dir="ltr">{lead}{PARAGRAPH * 6}<p>{anchor}</p><p>Cordialement,<br>Lot {NUMBER}</p></div>'
        links = [{"provider": provider, "raw_url": raw, "direct_url": direct}]
        template = Template(subject, detector, body, links)
        email = InboundEmail(
            email_id=EMAIL_ID, subject=subject, sender=SENDERS[0][0], sender_email=SENDERS[0][1], body=body,
            body_preview=body[:200], detector=detector, date="2026-04-10T09:54:38.000Z",
        )
        template.payload = payload_serialize(payload_build(email, links=links, routing_rule=None)).decode()
        built.append(template)
    return built


class RowWriter:
    """Multi-row INSERTs into a model's table, with every column the model has.

    Columns not given take the field's default: a constant computed once, a callable one per row.
    Text and integer values go to the driver as they are; the others (dates, JSON, UUIDs) through
    the field's own conversion for this database."""

    PLAIN = {"CharField", "TextField", "IntegerField", "BigIntegerField", "SmallIntegerField", "PositiveIntegerField",
             "PositiveSmallIntegerField", "AutoField", "BigAutoField", "ForeignKey", "BooleanField"}

    def __init__(self, model: type[models.Model]):
        self.model = model
        self.connection = connections[DEFAULT_DB_ALIAS]  # not the per-access proxy: this runs a million times
        self.fields = {f.attname: f for f in model._meta.concrete_fields}
        sample = model()
        self.constant = {
            name: f.get_db_prep_save(self._default(f, sample), self.connection) for name, f in self.fields.items()
        }
        self.per_row = [f for f in self.fields.values() if f.has_default() and callable(f.default)]
        self.converted = {name for name, f in self.fields.items() if f.get_internal_type() not in self.PLAIN}

    @staticmethod
    def _default(field_, sample):
        if getattr(field_, "auto_now", False) or getattr(field_, "auto_now_add", False):
            return timezone.now()
        return getattr(sample, field_.attname)

    def row(self, values: dict) -> tuple:
        prepared = dict(self.constant)
        for f in self.per_row:
            if f.attname not in values:
                prepared[f.attname] = f.get_db_prep_save(f.get_default(), self.connection)
        for name, value in values.items():
            convert = name in self.converted and value is not None
            prepared[name] = self.fields[name].get_db_prep_save(value, self.connection) if convert else value
        return tuple(prepared.values())

    def insert(self, rows: list[tuple]) -> None:
        quote = self.connection.ops.quote_name
        table = quote(self.model._meta.db_table)
        columns = ", ".join(quote(f.column) for f in self.fields.values())
        one = "(" + ", ".join(["%s"] * len(self.fields)) + ")"
        # SQLite allows 32766 parameters per statement; PostgreSQL 65535.
        per_statement = max(1, 30000 // len(self.fields))
        with self.connection.cursor() as cursor:
            for start in range(0, len(rows), per_statement):
                batch = rows[start : start + per_statement]
                sql = f"INSERT INTO {table} ({columns}) VALUES " + ", ".join([one] * len(batch))
                cursor.execute(sql, [value for row in batch for value in row])


@dataclass
class Seeded:
    emails: int = 0
    deliveries: int = 0
    attempts: int = 0
    seconds: float = 0.0

    def as_dict(self) -> dict:
        return {"emails": self.emails, "deliveries": self.deliveries, "attempts": self.attempts,
                "seconds": round(self.seconds, 1)}


class HistorySeeder:
    """Writes `count` e-mails received over the `days` before `now`, chunk by chunk."""

    def __init__(self, count: int, *, now: datetime | None = None, days: int = DAYS, seed: int = 0, chunk: int = CHUNK):
        self.count, self.chunk, self.days = count, chunk, days
        self.now = now or timezone.now()
        self.start = self.now - timedelta(days=days)
        self.rng = random.Random(seed)
        self.kinds = list(KINDS)
        self.rng.shuffle(self.kinds)
        self.seed = seed
        self.endpoint = endpoint_default()
        self.templates = templates_build()
        self.writers = {model: RowWriter(model) for model in (InboundEmail, WebhookDelivery, DeliveryAttempt)}
        self.next_id = {model: (model.objects.aggregate(top=models.Max("id"))["top"] or 0) + 1
                        for model in self.writers}

    def run(self, progress: Callable[[int], None] | None = None) -> Seeded:
        seeded, started = Seeded(), time.monotonic()
        for first in range(0, self.count, self.chunk):
            rows = {model: [] for model in self.writers}
            for index in range(first, min(self.count, first + self.chunk)):
                self._email(index, rows)
            with transaction.atomic():
                for model, writer in self.writers.items():
                    writer.insert(rows[model])
            seeded.emails += len(rows[InboundEmail])
            seeded.deliveries += len(rows[WebhookDelivery])
            seeded.attempts += len(rows[DeliveryAttempt])
            if progress:
                progress(seeded.emails)
        sequences_reset(list(self.writers))
        seeded.seconds = time.monotonic() - started
        return seeded

    def _take_id(self, model) -> int:
        self.next_id[model] += 1
        return self.next_id[model] - 1

    def _email(self, index: int, rows: dict) -> None:
        kind = self.kinds[index % 100]
        template = self.templates[index % len(self.templates)]
        number = str(self.seed * 10_000_000 + index)
        email_id = hashlib.md5(f"bench-{self.seed}-{index}".encode()).hexdigest()
        token = hashlib.sha1(email_id.encode()).hexdigest()[:15]
        received = self.start + timedelta(seconds=(index + self.rng.random()) * self.days * 86400 / self.count)
        sender, sender_email = SENDERS[index % len(SENDERS)]
        body = template.body.replace(TOKEN, token).replace(NUMBER, number)
        skipped_sender = kind.status == Status.SKIPPED_SENDER_NOT_ALLOWED
        links = [] if kind.status == Status.SKIPPED_NO_LINKS else [
            {key: value.replace(TOKEN, token) for key, value in link.items()} for link in template.links
        ]
        email_pk = self._take_id(InboundEmail)
        rows[InboundEmail].append(self.writers[InboundEmail].row({
            "id": email_pk, "email_id": email_id, "dedup_key": email_id, "message_id": f"18f{index:013x}",
            "sender": sender, "sender_email": sender_email, "subject": template.subject.replace(NUMBER, number),
            "date": received.strftime("%Y-%m-%dT%H:%M:%S.000Z"), "body": body,
            "body_preview": f"Bonjour, Veuillez trouver ci-dessous les fichiers de la mission {number}.",
            "source": "gmail_push", "recipients": {"to": ["missions@acme.fr"]},
            "detector": "" if skipped_sender else template.detector, "is_urgent": "URGENCE" in template.subject,
            "links": links, "status": kind.status, "received_at": received, "answer_ms": 5 + index % 40,
            "deliver_after": received + timedelta(hours=3) if kind.status == Status.DEFERRED else None,
            "decision": {"reason": "sender_not_allowed"} if skipped_sender else {
                "detector": template.detector or None, "window": "deliver", "links": len(links),
                "matched_rules": [], "endpoints": [self.endpoint.pk] if kind.delivery else [],
            },
        }))
        if kind.delivery:
            payload = template.payload.replace(EMAIL_ID, email_id).replace(TOKEN, token).replace(NUMBER, number)
            self._delivery(kind, email_pk, received, payload, rows)

    def _delivery(self, kind: Kind, email_pk: int, received: datetime, payload: str, rows: dict) -> None:
        status, answers = kind.delivery, kind.answers
        if status == Delivery.PENDING and self.now - received > RETRY_WAIT_WINDOW:
            status, answers = Delivery.FAILED, (*answers, None)
        delivery_pk = self._take_id(WebhookDelivery)
        created = received + timedelta(milliseconds=4)
        moment = created + timedelta(milliseconds=30)
        for number, answer in enumerate(answers, start=1):
            moment = created + timedelta(milliseconds=30, seconds=5 * (number - 1))
            rows[DeliveryAttempt].append(self.writers[DeliveryAttempt].row(
                self._attempt(delivery_pk, number, moment, answer, len(payload))
            ))
        last = answers[-1] if answers else None
        finished = moment + timedelta(milliseconds=120)
        done = status in (Delivery.SUCCEEDED, Delivery.FAILED, Delivery.CANCELLED)
        rows[WebhookDelivery].append(self.writers[WebhookDelivery].row({
            "id": delivery_pk, "uuid": _uuid(self.rng), "email_id": email_pk, "endpoint_id": self.endpoint.pk,
            "status": status, "payload_json": payload, "attempt_count": len(answers),
            "series_attempt_count": len(answers),
            "next_attempt_at": None if done else self.now + timedelta(hours=1 + self.rng.random() * 5),
            "last_attempt_at": moment if answers else None, "last_status_code": last,
            "last_error": "" if last == 200 else _error(last), "failure_reason": "" if last == 200 else _reason(last),
            "created_at": created, "updated_at": finished, "completed_at": finished if done else None,
        }))

    def _attempt(self, delivery_pk: int, number: int, started: datetime, answer, size: int) -> dict:
        ok = answer == 200
        return {
            "id": self._take_id(DeliveryAttempt), "delivery_id": delivery_pk, "number": number, "started_at": started,
            "finished_at": started + timedelta(milliseconds=120), "duration_ms": 120, "url": self.endpoint.url,
            "delivery_mode": "json", "request_size": size, "status_code": answer, "succeeded": ok,
            "request_headers": {"Content-Type": "application/json", "webhook-id": f"msg_{delivery_pk}"},
            "response_snippet": '{"success": true}' if ok else _error(answer), "error": "" if ok else _error(answer),
            "failure_reason": "" if ok else _reason(answer),
        }


def _uuid(rng: random.Random) -> uuid.UUID:
    return uuid.UUID(int=rng.getrandbits(128), version=4)


def _error(answer) -> str:
    return "Connection refused" if answer is None else f"HTTP {answer}"


def _reason(answer) -> str:
    if answer is None:
        return "request_failed"
    return "upstream_server_error" if answer >= 500 else "upstream_client_error"


def endpoint_default() -> WebhookEndpoint:
    """The default endpoint `bootstrap` made from WEBHOOK_URL, or one made here."""
    endpoint = WebhookEndpoint.objects.filter(is_default=True).first()
    if endpoint is None:
        endpoint = WebhookEndpoint.objects.create(name="bench", url="http://127.0.0.1:9/hook", is_default=True)
    return endpoint


def sequences_reset(model_list: list) -> None:
    """Move PostgreSQL's id sequences past the ids written here (SQLite needs nothing)."""
    statements = connection.ops.sequence_reset_sql(no_style(), model_list)
    if statements:
        with connection.cursor() as cursor:
            for statement in statements:
                cursor.execute(statement)


def history_seed(count: int, **options) -> Seeded:
    return HistorySeeder(count, **options).run()


def sample_get() -> dict:
    """An e-mail from the middle of the history with a failed delivery: what the searches and detail pages ask."""
    top = InboundEmail.objects.aggregate(top=models.Max("id"))["top"] or 0
    delivery = (
        WebhookDelivery.objects.filter(email_id__gte=top // 2, status=Delivery.FAILED)
        .select_related("email").order_by("email_id").first()
    )
    return {"email_id": delivery.email.email_id, "email_pk": delivery.email_id, "delivery_pk": delivery.pk}


def main_json(count: int) -> str:
    """Seed `count` e-mails with progress on stderr; what was seeded and the sample, as JSON (for `manage.py
    shell`)."""

    def progress(done: int) -> None:
        if done % 100_000 == 0 or done == count:
            print(f"  seeded {done:,} / {count:,}", file=sys.stderr, flush=True)

    seeded = HistorySeeder(count).run(progress)
    return json.dumps({"seeded": seeded.as_dict(), "sample": sample_get()})
