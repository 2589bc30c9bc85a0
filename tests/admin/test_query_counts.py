"""Query-count baselines of every history list and change page (NetBox's model).

Each page is loaded over a small history and over one past a full page, and must run the pinned number
of queries both times: a column that reads a row per line, a count of every row, or a filter that
lists distinct values adds queries or grows with the history, and fails here rather than at a customer
with a million e-mails. When a page needs one query more on purpose, change its pinned number here.
"""

import itertools
from datetime import timedelta

import pytest
from django.utils import timezone

from ops.models import Alert, AlertNotification
from routing.models import RoutingCondition, RoutingRule
from tests.factories import endpoint_create
from tests.history_factories import delivery_create, email_create, failed_attempt, ok_attempt
from transfers.models import LinkPair

pytestmark = pytest.mark.django_db

SMALL, LARGE = 3, 156  # each filter lists more than a page of 50 in LARGE: the paginator counts and pages
_numbers = itertools.count(1)

# Each list with its default order, each filter and each kind of search, and the queries it runs.
CHANGELISTS = [
    ("/admin/ingress/inboundemail/", 10),
    ("/admin/ingress/inboundemail/?status__exact=processed", 10),
    ("/admin/ingress/inboundemail/?detector=recadrage", 10),
    ("/admin/ingress/inboundemail/?detector=none", 10),
    ("/admin/ingress/inboundemail/?received_at__gte=2000-01-01+00%3A00%3A00%2B00%3A00", 10),
    ("/admin/ingress/inboundemail/?deliveries=failed", 11),
    ("/admin/ingress/inboundemail/?deliveries=unfinished", 11),
    ("/admin/ingress/inboundemail/?deliveries=succeeded", 10),
    ("/admin/ingress/inboundemail/?deliveries=none", 10),
    ("/admin/ingress/inboundemail/?q=technique@media-solution.fr", 10),
    ("/admin/ingress/inboundemail/?q=Fichiers", 11),
    ("/admin/ingress/inboundemail/?p=2", 10),
    ("/admin/webhooks/webhookdelivery/", 10),
    ("/admin/webhooks/webhookdelivery/?status__exact=failed", 10),
    ("/admin/webhooks/webhookdelivery/?status__exact=pending", 11),
    ("/admin/webhooks/webhookdelivery/?failure_reason=upstream_server_error", 10),
    ("/admin/webhooks/webhookdelivery/?is_test__exact=0", 10),
    ("/admin/webhooks/webhookdelivery/?endpoint__id__exact={endpoint}", 10),
    ("/admin/webhooks/webhookdelivery/?q=technique@media-solution.fr", 11),
    ("/admin/webhooks/webhookdelivery/?q=Fichiers", 11),
    ("/admin/webhooks/webhookendpoint/", 15),
    ("/admin/transfers/linkpair/", 9),
    ("/admin/transfers/linkpair/?status__exact=stored&provider=dropbox", 9),
    ("/admin/transfers/linkpair/?q=Camille", 10),
    ("/admin/ops/alert/", 10),
    ("/admin/ops/alert/?state=open", 10),
    ("/admin/routing/routingrule/", 11),
]
# Each change page, over a row with one related row (delivery, attempt, notification, condition) and with many.
CHANGE_PAGES = [
    ("/admin/ingress/inboundemail/{email}/change/", 9),
    ("/admin/webhooks/webhookdelivery/{delivery}/change/", 11),
    ("/admin/webhooks/webhookendpoint/{endpoint}/change/", 13),
    ("/admin/transfers/linkpair/{pair}/change/", 8),
    ("/admin/ops/alert/{alert}/change/", 9),
    ("/admin/routing/routingrule/{rule}/change/", 11),
]


def history_add(count: int, endpoint) -> None:
    """`count` e-mails, a third of each kind (so that every filter lists some): a failed delivery to
    `endpoint` and a pending one elsewhere; one succeeded delivery; none. Each has a link pair, and an alert
    with a failed notification."""
    other = endpoint_create()
    for _ in range(count):
        n = next(_numbers)
        email = email_create(detector="" if n % 3 == 1 else "recadrage")
        if n % 3 == 0:
            delivery_create(email, endpoint, attempts=[failed_attempt(500)])
            delivery_create(email, other)
        elif n % 3 == 1:
            delivery_create(email, endpoint, attempts=[ok_attempt()])
        LinkPair.objects.create(
            source_url=f"https://www.dropbox.com/scl/fo/{n}", provider="dropbox", status="stored",
            original_filename=f"{n} Camille.zip", object_key=f"dropbox/{n}/Camille.zip",
        )
        alert = Alert.objects.create(
            kind="delivery_failed", subject_type="delivery", subject_id=n, subject_label=f"#{n}", message="failed",
            first_seen_at=timezone.now(), last_seen_at=timezone.now(),
        )
        AlertNotification.objects.create(
            alert=alert, event="alert.raised", channel="email", sent_at=timezone.now(), succeeded=False,
        )


@pytest.mark.parametrize(("url", "expected"), CHANGELISTS)
def test_each_list_runs_the_same_pinned_queries_over_a_small_and_a_larger_history(
    admin_client, django_assert_num_queries, url, expected
):
    endpoint = endpoint_create()
    history_add(SMALL, endpoint)
    url = url.format(endpoint=endpoint.pk)
    with django_assert_num_queries(expected):
        assert admin_client.get(url).status_code == 200
    history_add(LARGE - SMALL, endpoint)
    with django_assert_num_queries(expected):
        assert admin_client.get(url).status_code == 200


def related_rows_add(count: int, email, delivery, alert, rule) -> None:
    for _ in range(count):
        delivery_create(email, endpoint_create(), attempts=[ok_attempt()])
        number = delivery.attempt_count + 1
        delivery.attempts.create(number=number, started_at=timezone.now(), url="https://hooks.acme.fr/in")
        delivery.attempt_count = number
        delivery.save(update_fields=["attempt_count"])
        alert.notifications.create(event="alert.raised", channel="email", sent_at=timezone.now(), succeeded=True)
        RoutingCondition.objects.create(rule=rule, field="subject", operator="contains", value=f"lot {number}")


@pytest.mark.parametrize(("url", "expected"), CHANGE_PAGES)
def test_each_change_page_runs_the_same_pinned_queries_with_one_or_many_related_rows(
    admin_client, django_assert_num_queries, url, expected
):
    endpoint = endpoint_create()
    email = email_create()
    delivery = delivery_create(email, endpoint, attempts=[failed_attempt(500)])
    pair = LinkPair.objects.create(source_url="https://fromsmash.com/AbC", provider="fromsmash")
    alert = Alert.objects.create(
        kind="no_ingress", subject_type="service", subject_label="service", message="no push",
        first_seen_at=timezone.now() - timedelta(hours=1), last_seen_at=timezone.now(),
    )
    rule = RoutingRule.objects.create(name="Billing", position=1, endpoint=endpoint)
    related_rows_add(1, email, delivery, alert, rule)
    url = url.format(email=email.pk, delivery=delivery.pk, endpoint=endpoint.pk, pair=pair.pk, alert=alert.pk,
                     rule=rule.pk)
    admin_client.get(url)  # the first request of a process also reads the configuration it then caches
    with django_assert_num_queries(expected):
        assert admin_client.get(url).status_code == 200
    related_rows_add(6, email, delivery, alert, rule)
    with django_assert_num_queries(expected):
        assert admin_client.get(url).status_code == 200


def test_a_list_past_its_count_cap_says_so_and_counts_no_further(admin_client, monkeypatch):
    for _ in range(3):
        email_create()
    monkeypatch.setattr("core.admin.COUNT_FLOOR", 2)
    monkeypatch.setattr("core.admin.COUNT_PAGES_AHEAD", 0)
    monkeypatch.setattr("ingress.admin.InboundEmailAdmin.list_per_page", 1)
    response = admin_client.get("/admin/ingress/inboundemail/")
    assert response.context["cl"].paginator.capped
    assert response.context["cl"].result_count == 2
    assert '<span class="capped-count"' in response.content.decode()


def test_a_list_under_its_count_cap_shows_the_exact_count(admin_client):
    for _ in range(3):
        email_create()
    response = admin_client.get("/admin/ingress/inboundemail/")
    assert not response.context["cl"].paginator.capped
    assert response.context["cl"].result_count == 3
    assert "capped-count" not in response.content.decode()
