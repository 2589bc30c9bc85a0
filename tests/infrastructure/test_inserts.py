import uuid
from datetime import UTC, datetime

import pytest
from django.db import IntegrityError, transaction

from infrastructure.inserts import row_insert
from ingress.models import InboundEmail
from tests.factories import endpoint_create
from webhooks.models import EndpointLane, WebhookDelivery

pytestmark = pytest.mark.django_db


def email_build(**overrides) -> InboundEmail:
    values = {
        "email_id": uuid.uuid4().hex,
        "sender": "Ops <ops@example.com>",
        "sender_email": "ops@example.com",
        "body": "<p>Hello</p>",
        "status": InboundEmail.Status.PROCESSED,
    }
    return InboundEmail(**(values | overrides))


def test_row_insert_sets_the_generated_primary_key():
    email = row_insert(email_build())

    assert email.pk is not None
    assert InboundEmail.objects.get(pk=email.pk).email_id == email.email_id


def test_row_insert_applies_auto_now_add_and_field_defaults():
    email = row_insert(email_build())

    stored = InboundEmail.objects.get(pk=email.pk)
    assert stored.received_at is not None
    assert stored.received_at == email.received_at
    assert stored.links == [] and stored.decision == {} and stored.is_urgent is False


def test_row_insert_stores_json_and_dates_as_save_would():
    deliver_after = datetime(2026, 4, 10, 14, 30, tzinfo=UTC)
    links = [{"provider": "dropbox", "url": "https://www.dropbox.com/scl/fo/x"}]
    email = row_insert(email_build(links=links, decision={"window": "defer"}, deliver_after=deliver_after))

    stored = InboundEmail.objects.get(pk=email.pk)
    assert stored.links == links
    assert stored.decision == {"window": "defer"}
    assert stored.deliver_after == deliver_after


def test_row_insert_keeps_a_primary_key_given_by_the_caller():
    endpoint = endpoint_create()

    lane = row_insert(EndpointLane(endpoint=endpoint, consecutive_failures=3))

    assert lane.pk == endpoint.pk and EndpointLane.objects.get(pk=endpoint.pk).consecutive_failures == 3


def test_row_insert_writes_foreign_keys():
    endpoint = endpoint_create()
    email = row_insert(email_build())

    delivery = row_insert(WebhookDelivery(email=email, endpoint=endpoint, next_attempt_at=email.received_at))

    stored = WebhookDelivery.objects.get(pk=delivery.pk)
    assert (stored.email_id, stored.endpoint_id, stored.status) == (email.pk, endpoint.pk, "pending")
    assert stored.uuid == delivery.uuid


def test_row_insert_raises_integrity_error_on_a_unique_conflict():
    row_insert(email_build(email_id="a" * 32, dedup_key="a" * 32))

    with pytest.raises(IntegrityError), transaction.atomic():
        row_insert(email_build(email_id="a" * 32, dedup_key="a" * 32))
    assert InboundEmail.objects.filter(dedup_key="a" * 32).count() == 1


def test_row_insert_sends_pre_save_before_and_post_save_after_the_insert():
    from django.db.models.signals import post_save, pre_save

    seen = []

    def before(sender, instance, **kwargs):
        seen.append(("pre", instance.pk))
        instance.body_preview = "set by a pre_save receiver"

    def after(sender, instance, created, **kwargs):
        seen.append(("post", instance.pk, created))

    pre_save.connect(before, sender=InboundEmail)
    post_save.connect(after, sender=InboundEmail)
    try:
        email = row_insert(email_build())
    finally:
        pre_save.disconnect(before, sender=InboundEmail)
        post_save.disconnect(after, sender=InboundEmail)
    assert seen == [("pre", None), ("post", email.pk, True)]
    assert InboundEmail.objects.get(pk=email.pk).body_preview == "set by a pre_save receiver"


# --- the contract with Django -------------------------------------------------------------------
# row_insert re-implements what save() does for a new row. These fail when Django's save() stores a
# row differently (new preparation steps, defaults, pre_save hooks) or marks the instance differently.

NOW = datetime(2026, 4, 10, 9, 54, 38, 123456, tzinfo=UTC)


def variants(endpoint, email):
    """Rows of every model row_insert writes, with empty and filled optional columns."""
    return [
        email_build(),
        email_build(
            is_urgent=True,
            dedup_key=None,
            links=[{"provider": "dropbox"}],
            deliver_after=datetime(2026, 1, 1, tzinfo=UTC),
        ),
        WebhookDelivery(email=email, endpoint=endpoint, routing_rule={"id": 1}, next_attempt_at=NOW),
        WebhookDelivery(
            endpoint=endpoint, is_test=True, attempt_count=2, last_status_code=None, routing_rule=None,
            next_attempt_at=NOW,
        ),
    ]


def stored(instance) -> dict:
    """The row as the database holds it, without the columns that differ between two inserts."""
    row = type(instance).objects.filter(pk=instance.pk).values().get()
    return {k: v for k, v in row.items() if k not in ("id", "uuid", "email_id_hash", "dedup_key", "email_id")}


@pytest.mark.parametrize("index", range(4), ids=["email", "email-deferred", "delivery", "test-delivery"])
def test_row_insert_stores_what_save_stores(index, monkeypatch):
    monkeypatch.setattr("django.utils.timezone.now", lambda: NOW)
    endpoint = endpoint_create()
    by_save = variants(endpoint, row_insert(email_build()))[index]
    by_insert = variants(endpoint, row_insert(email_build()))[index]
    if isinstance(by_save, InboundEmail):
        by_insert.email_id = by_insert.dedup_key = uuid.uuid4().hex if by_insert.dedup_key else None
        by_insert.email_id = by_insert.email_id or uuid.uuid4().hex

    by_save.save(force_insert=True)
    row_insert(by_insert)

    assert stored(by_insert) == stored(by_save)


def test_a_row_insert_instance_saves_again_as_an_update():
    email = row_insert(email_build())
    email.subject = "changed"

    email.save()

    assert InboundEmail.objects.filter(email_id=email.email_id).count() == 1
    assert InboundEmail.objects.get(pk=email.pk).subject == "changed"
