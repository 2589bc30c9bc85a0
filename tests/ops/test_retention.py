"""The retention setting: validated in admin and the config document, run once a day by the delivery workers."""

from datetime import UTC, datetime, timedelta

import pytest
from django.core.exceptions import ValidationError

from configuration.document import ConfigDocumentInvalid, config_export, config_import
from configuration.models import RetentionSettings
from ingress.models import InboundEmail
from ops.housekeeping import Housekeeper
from ops.models import RetentionRun
from tests.history_factories import delivery_create, email_create, ok_attempt

pytestmark = pytest.mark.django_db

DAY_ONE = datetime(2026, 4, 10, 3, 0, tzinfo=UTC)


class Clock:
    def __init__(self, now: datetime):
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def old_email(now: datetime, days: int = 100) -> InboundEmail:
    at = now - timedelta(days=days)
    email = email_create(received_at=at)
    delivery_create(email, created_at=at, attempts=[ok_attempt(started_at=at)])
    return email


def retention(days: int) -> None:
    settings = RetentionSettings.load()
    settings.retention_days = days
    settings.full_clean()
    settings.save()


def test_history_is_kept_90_days_by_default():
    assert RetentionSettings.load().retention_days == 90


@pytest.mark.parametrize("days", [-1, 3651])
def test_a_retention_out_of_range_is_refused(days):
    settings = RetentionSettings(retention_days=days)
    with pytest.raises(ValidationError) as raised:
        settings.full_clean()
    assert "retention_days" in raised.value.message_dict


def test_the_config_document_carries_the_retention_and_validates_it():
    retention(30)
    assert config_export()["settings"]["retention_days"] == 30
    with pytest.raises(ConfigDocumentInvalid) as raised:
        config_import({"version": 1, "settings": {"retention_days": 5000}})
    assert any(error.path == "settings.retention_days" for error in raised.value.errors)
    config_import({"version": 1, "settings": {"retention_days": 0}})
    assert RetentionSettings.load().retention_days == 0


def test_the_worker_purges_once_a_day_and_records_the_run():
    retention(90)
    clock = Clock(DAY_ONE)
    worker = Housekeeper(clock=clock)
    first = old_email(clock.now)
    worker.on_tick(worker_id="worker-a")
    assert not InboundEmail.objects.filter(pk=first.pk).exists()
    run = RetentionRun.objects.get()
    assert (run.started_at, run.holder, run.finished_at) == (DAY_ONE, "worker-a", DAY_ONE)
    assert run.counts == {"emails": 1, "deliveries": 1, "attempts": 1, "link_pairs": 0}

    second = old_email(clock.now)
    clock.now += timedelta(hours=12)
    Housekeeper(clock=clock).on_tick(worker_id="worker-b")  # another worker, the same day
    assert InboundEmail.objects.filter(pk=second.pk).exists()
    clock.now += timedelta(hours=12)
    worker.on_tick(worker_id="worker-a")
    assert not InboundEmail.objects.filter(pk=second.pk).exists()
    assert RetentionRun.objects.get().started_at == DAY_ONE + timedelta(days=1)


def test_a_retention_of_zero_keeps_everything():
    retention(0)
    email = old_email(DAY_ONE, days=4000)
    Housekeeper(clock=Clock(DAY_ONE)).on_tick(worker_id="worker-a")
    assert InboundEmail.objects.filter(pk=email.pk).exists() and not RetentionRun.objects.exists()


def test_the_overview_shows_the_last_run(admin_client):
    retention(90)
    old_email(datetime.now(UTC))
    Housekeeper().on_tick(worker_id="worker-a")
    html = admin_client.get("/admin/overview/").content.decode()
    assert 'id="retention"' in html and "by worker-a" in html and "link pairs deleted" in html
