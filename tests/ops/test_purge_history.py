"""`manage.py purge_history --days N`: old history goes in batches; nothing still in use does."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from ingress.models import InboundEmail
from ops.models import RetentionRun
from ops.retention import MAX_BATCH, MIN_BATCH, HistoryPurge, batch_size_next, history_purge, purge_cutoff
from tests.factories import endpoint_create
from tests.history_factories import delivery_create, email_create, failed_attempt, ok_attempt
from transfers.models import LinkPair
from webhooks.models import DeliveryAttempt, WebhookDelivery

pytestmark = pytest.mark.django_db


def days_ago(days: float):
    return timezone.now() - timedelta(days=days)


def old_email_with_delivery(days: float = 40, **delivery_fields):
    email = email_create(received_at=days_ago(days))
    delivery_fields.setdefault(
        "attempts", [failed_attempt(500, started_at=days_ago(days)), ok_attempt(started_at=days_ago(days))]
    )
    delivery = delivery_create(email, created_at=days_ago(days), **delivery_fields)
    return email, delivery


class Terminal(StringIO):
    def isatty(self) -> bool:
        return True


def purge(*args, out=None) -> str:
    out = out or StringIO()
    call_command("purge_history", *args, stdout=out)
    return out.getvalue()


def test_old_emails_go_with_their_deliveries_and_attempts_and_counts_are_printed():
    old_email_with_delivery()
    recent = email_create(received_at=days_ago(5))
    output = purge("--days", "30")
    assert "Deleted history older than 30 day(s): emails 1, deliveries 1, attempts 2, link pairs 0." in output
    assert list(InboundEmail.objects.all()) == [recent]
    assert not WebhookDelivery.objects.exists() and not DeliveryAttempt.objects.exists()


def test_an_email_whose_delivery_is_still_pending_is_kept():
    email, _ = old_email_with_delivery(attempts=[failed_attempt(500, started_at=days_ago(40))],
                                       status=WebhookDelivery.Status.PENDING)
    history_purge(30)
    assert InboundEmail.objects.filter(pk=email.pk).exists()


def test_an_old_email_replayed_or_rerun_recently_is_kept():
    replayed, _ = old_email_with_delivery(attempts=[failed_attempt(500, started_at=days_ago(40)),
                                                    ok_attempt(started_at=days_ago(1))])
    rerun = email_create(received_at=days_ago(40))
    delivery_create(rerun, created_at=days_ago(2), attempts=[ok_attempt(started_at=days_ago(2))])
    history_purge(30)
    assert set(InboundEmail.objects.values_list("pk", flat=True)) == {replayed.pk, rerun.pk}


def test_old_test_deliveries_and_link_pairs_go():
    delivery_create(None, is_test=True, created_at=days_ago(40), attempts=[ok_attempt(started_at=days_ago(40))])
    kept_test = delivery_create(None, is_test=True, created_at=days_ago(3), attempts=[ok_attempt()])
    old_pair = LinkPair.objects.create(source_url="https://www.dropbox.com/s/old?dl=1", provider="dropbox")
    LinkPair.objects.filter(pk=old_pair.pk).update(created_at=days_ago(40))
    new_pair = LinkPair.objects.create(source_url="https://www.dropbox.com/s/new?dl=1", provider="dropbox")
    counts = history_purge(30)
    assert counts["deliveries"] == 1 and counts["link_pairs"] == 1
    assert list(WebhookDelivery.objects.all()) == [kept_test]
    assert list(LinkPair.objects.all()) == [new_pair]


def test_an_old_email_with_a_paused_delivery_is_kept():
    paused = email_create(received_at=days_ago(40))
    delivery_create(paused, created_at=days_ago(40), status="paused")
    history_purge(30)
    assert list(InboundEmail.objects.values_list("pk", flat=True)) == [paused.pk]


def test_batches_smaller_than_the_backlog_still_delete_everything():
    endpoint = endpoint_create()
    for _ in range(7):
        email = email_create(received_at=days_ago(10))
        delivery_create(email, endpoint, created_at=days_ago(10), attempts=[ok_attempt(started_at=days_ago(10))])
    counts = history_purge(5, batch_size=3)
    assert counts["emails"] == 7 and counts["deliveries"] == 7 and counts["attempts"] == 7
    assert not InboundEmail.objects.exists()


def test_dry_run_counts_without_deleting():
    old_email_with_delivery()
    output = purge("--days", "30", "--dry-run")
    assert "Would delete history older than 30 day(s): emails 1, deliveries 1, attempts 2, link pairs 0" in output
    assert InboundEmail.objects.count() == 1 and DeliveryAttempt.objects.count() == 2


@pytest.mark.parametrize("days", ["0", "-3"])
def test_fewer_than_one_day_is_refused(days):
    old_email_with_delivery(days=0.5)
    with pytest.raises(CommandError, match="at least 1"):
        purge("--days", days)
    assert InboundEmail.objects.count() == 1


def test_days_is_required():
    with pytest.raises(CommandError):
        purge()


def test_attempts_of_purged_deliveries_go_before_them_and_are_counted():
    for _ in range(3):
        old_email_with_delivery()
    kept, _ = old_email_with_delivery(status=WebhookDelivery.Status.PAUSED)
    counts = history_purge(30, batch_size=2)
    assert counts == {"emails": 3, "deliveries": 3, "attempts": 6, "link_pairs": 0}
    assert set(DeliveryAttempt.objects.values_list("delivery__email_id", flat=True)) == {kept.pk}


def test_each_batch_is_one_short_transaction_measured_and_the_size_follows_the_time_budget():
    assert batch_size_next(100, elapsed=0.2, target=0.05) == 25  # too slow: shrunk at once
    assert batch_size_next(100, elapsed=0.04, target=0.05) == 125
    assert batch_size_next(100, elapsed=0.001, target=0.05) == 150  # much faster: by half at most
    assert batch_size_next(MIN_BATCH, elapsed=1.0) == MIN_BATCH
    assert batch_size_next(MAX_BATCH, elapsed=0.0) == MAX_BATCH
    for _ in range(12):
        old_email_with_delivery()
    run = HistoryPurge(purge_cutoff(30), batch_size=4, target=0.0)  # no time at all: chunks shrink
    sizes = []
    run.run(on_batch=lambda purge: sizes.append(purge.batch_size))
    assert sizes[:2] == [MIN_BATCH, MIN_BATCH] and run.counts["emails"] == 12
    assert run.batches >= 3 and 0 <= run.max_lock_ms < 1000


def test_the_run_is_recorded_as_the_last_retention_run():
    old_email_with_delivery()
    purge("--days", "30")
    run = RetentionRun.objects.get()
    assert (run.days, run.holder, run.counts["emails"]) == (30, "command", 1) and run.finished_at is not None


def test_progress_is_plain_lines_when_the_output_is_not_a_terminal():
    for _ in range(6):
        old_email_with_delivery()
    output = purge("--days", "30", "--batch-size", "2")
    lines = output.splitlines()
    assert "\r" not in output and lines[0].startswith("33% 2/6 old e-mails looked at; deleted emails 2")
    assert lines[-2].startswith("100% 6/6") and lines[-1].startswith("Deleted history")


def test_progress_is_a_bar_redrawn_in_place_on_a_terminal():
    for _ in range(4):
        old_email_with_delivery()
    output = purge("--days", "30", "--batch-size", "2", out=Terminal())
    assert output.startswith("\r[###############...............]  50% 2/4 old e-mails")
    assert "\r[##############################] 100%" in output and output.endswith("link pairs 0.\n")
