import uuid
from datetime import UTC, datetime

import pytest
from django.db import IntegrityError, connection, models, transaction

from ingress.models import InboundEmail
from signal_server.inserts import _params, _statement_build, _unchanged_types, row_insert
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


def test_row_insert_marks_the_instance_saved():
    email = row_insert(email_build())

    assert email._state.adding is False
    assert email._state.db == "default"


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


@pytest.mark.parametrize(
    "instance",
    [
        email_build(),
        email_build(
            is_urgent=True,
            dedup_key=None,
            links=[{"provider": "dropbox"}],
            deliver_after=datetime(2026, 1, 1, tzinfo=UTC),
        ),
        WebhookDelivery(
            email_id=7, endpoint_id=3, routing_rule={"id": 1}, next_attempt_at=datetime(2026, 1, 1, tzinfo=UTC)
        ),
        WebhookDelivery(endpoint_id=3, is_test=True, attempt_count=2, last_status_code=None, routing_rule=None),
        EndpointLane(endpoint_id=3, open_until=datetime(2099, 1, 1, tzinfo=UTC), probe_delivery_id=7),
    ],
    ids=["email", "email-deferred", "delivery", "test-delivery", "lane"],
)
def test_row_insert_prepares_each_value_as_get_db_prep_save_does(instance, monkeypatch):
    monkeypatch.setattr("django.utils.timezone.now", lambda: datetime(2026, 4, 10, 9, 54, 38, 123456, tzinfo=UTC))
    model = type(instance)
    statement = _statement_build(model, "default", instance.pk is None)
    fast = _params(statement, instance, connection)
    slow = [
        column.field.get_db_prep_save(column.field.pre_save(instance, True), connection) for column in statement.columns
    ]

    # Columns whose values skip the preparation chain get exactly what it would return; the others go
    # through it (PostgreSQL wraps JSON in adapter objects that do not compare equal).
    shortcut = [
        (f, s) for column, f, s in zip(statement.columns, fast, slow, strict=True) if type(f) in column.unchanged
    ]
    assert shortcut
    assert [f for f, _ in shortcut] == [s for _, s in shortcut]
    assert [type(f) for f, _ in shortcut] == [type(s) for _, s in shortcut]


def test_empty_date_columns_skip_the_preparation_chain():
    assert _unchanged_types(WebhookDelivery._meta.get_field("completed_at")) == {type(None)}
    assert _unchanged_types(models.DateField()) == {type(None)}


def test_a_field_that_overrides_a_preparation_step_keeps_the_whole_chain():
    class LocalDateTimeField(models.DateTimeField):
        def get_prep_value(self, value):
            return super().get_prep_value(value) or datetime(2000, 1, 1, tzinfo=UTC)

    class UpperCharField(models.CharField):
        def get_prep_value(self, value):
            return super().get_prep_value(value).upper()

    assert _unchanged_types(LocalDateTimeField()) == frozenset()
    assert _unchanged_types(UpperCharField()) == frozenset()
