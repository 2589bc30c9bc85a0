"""The inbound e-mail admin: list columns without N+1, filters, search, detail page and the re-run action."""

import hashlib
import re
from datetime import timedelta
from html import unescape as html_unescape
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from ingress.models import InboundEmail
from tests.factories import endpoint_create, settings_update
from tests.history_factories import delivery_create, email_create, failed_attempt, ok_attempt
from webhooks.models import WebhookDelivery

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/ingress/inboundemail/"


def listed_subjects(response) -> set[str]:
    return {email.subject for email in response.context["cl"].result_list}


def test_the_list_shows_links_and_delivery_outcomes(admin_client):
    email = email_create(subject="Lot 7")
    delivery_create(email, endpoint_create(), attempts=[ok_attempt()])
    delivery_create(email, endpoint_create(), attempts=[failed_attempt(500)])
    delivery_create(email, endpoint_create())
    response = admin_client.get(CHANGELIST)
    assert response.status_code == 200
    html = response.content.decode()
    assert "1 ok, 1 failed, 1 pending" in html
    assert f"?email__id__exact={email.pk}" in html
    row = response.context["cl"].result_list[0]
    assert row.links_total == 1 and row.delivery_counts.total() == 3


def test_the_delivery_link_of_a_row_filters_the_delivery_list(admin_client):
    email = email_create()
    mine = delivery_create(email, endpoint_create())
    delivery_create(email_create(), endpoint_create())
    response = admin_client.get(f"/admin/webhooks/webhookdelivery/?email__id__exact={email.pk}")
    assert response.status_code == 200
    assert [d.pk for d in response.context["cl"].result_list] == [mine.pk]


def test_list_queries_do_not_grow_with_rows_and_never_load_bodies(admin_client):
    def load() -> list[str]:
        with CaptureQueriesContext(connection) as queries:
            assert admin_client.get(CHANGELIST).status_code == 200
        return [q["sql"] for q in queries]

    for _ in range(3):
        delivery_create(email_create(), endpoint_create(), attempts=[ok_attempt()])
    few = load()
    for _ in range(30):
        delivery_create(email_create(), endpoint_create(), attempts=[failed_attempt(500)])
    many = load()
    assert len(many) == len(few)
    email_selects = [sql for sql in many if 'FROM "ingress_inboundemail"' in sql]
    assert email_selects
    for column in ("body", "links", "decision", "recipients", "headers", "attachments"):
        selected = re.compile(rf'(SELECT|,)\s*"ingress_inboundemail"\."{column}"')  # a column, not inside a function
        assert not any(selected.search(sql.split(" FROM ")[0]) for sql in email_selects), column


def test_filters_by_status_detector_and_failed_deliveries(admin_client):
    email_create(subject="skipped", status=InboundEmail.Status.SKIPPED_NO_LINKS)
    email_create(subject="recadrage", detector="recadrage")
    failing = email_create(subject="failing")
    delivery_create(failing, endpoint_create(), attempts=[failed_attempt(500)])
    assert listed_subjects(admin_client.get(CHANGELIST, {"status__exact": "skipped_no_links"})) == {"skipped"}
    assert listed_subjects(admin_client.get(CHANGELIST, {"detector": "recadrage"})) == {"recadrage"}
    assert listed_subjects(admin_client.get(CHANGELIST, {"detector": "none"})) == {"skipped", "failing"}
    assert listed_subjects(admin_client.get(CHANGELIST, {"deliveries": "failed"})) == {"failing"}
    assert listed_subjects(admin_client.get(CHANGELIST, {"deliveries": "none"})) == {"skipped", "recadrage"}


@pytest.mark.parametrize("few_deliveries", [10_000, 1], ids=["read from the deliveries", "walked newest first"])
def test_the_delivery_filters_list_the_same_emails_by_either_plan(admin_client, monkeypatch, few_deliveries):
    monkeypatch.setattr("ingress.admin.FEW_DELIVERIES", few_deliveries)
    endpoint, other = endpoint_create(), endpoint_create()
    failing, waiting, done, _ = (email_create(subject=subject) for subject in ("failing", "waiting", "done", "none"))
    delivery_create(failing, endpoint, attempts=[failed_attempt(500)])
    delivery_create(failing, other, attempts=[ok_attempt()])
    delivery_create(waiting, endpoint)
    delivery_create(waiting, other, status=WebhookDelivery.Status.SENDING)
    delivery_create(done, endpoint, attempts=[ok_attempt()])
    delivery_create(done, other, status=WebhookDelivery.Status.CANCELLED)
    assert listed_subjects(admin_client.get(CHANGELIST, {"deliveries": "failed"})) == {"failing"}
    assert listed_subjects(admin_client.get(CHANGELIST, {"deliveries": "unfinished"})) == {"waiting"}
    assert listed_subjects(admin_client.get(CHANGELIST, {"deliveries": "succeeded"})) == {"done"}
    assert listed_subjects(admin_client.get(CHANGELIST, {"deliveries": "none"})) == {"none"}


def test_an_email_id_finds_its_email_exactly(admin_client):
    wanted = email_create(subject="Facture")
    email_create(subject="Autre")
    assert listed_subjects(admin_client.get(CHANGELIST, {"q": f" {wanted.email_id.upper()} "})) == {"Facture"}


def test_a_gmail_message_id_finds_its_email_by_the_email_id_it_hashes_to(admin_client):
    email_create(subject="Facture", email_id=hashlib.md5(b"18f2a9c0d1e2f3a4").hexdigest())
    email_create(subject="Autre")
    assert listed_subjects(admin_client.get(CHANGELIST, {"q": "18f2a9c0d1e2f3a4"})) == {"Facture"}


def test_a_sender_address_finds_its_emails_in_any_spelling_and_only_whole(admin_client):
    email_create(subject="Facture", sender="Compta <compta@acme.fr>", sender_email="compta@acme.fr")
    email_create(subject="Autre", sender="Compta <compta@acme.fr.example>", sender_email="compta@acme.fr.example")
    assert listed_subjects(admin_client.get(CHANGELIST, {"q": "Compta <COMPTA@Acme.FR>"})) == {"Facture"}
    assert listed_subjects(admin_client.get(CHANGELIST, {"q": "compta@acme"})) == set()


def test_a_word_finds_the_subjects_holding_it(admin_client):
    email_create(subject="Facture de mars")
    email_create(subject="Autre")
    assert listed_subjects(admin_client.get(CHANGELIST, {"q": "FACTU"})) == {"Facture de mars"}


def test_a_word_searches_only_the_newest_emails_of_the_window(admin_client, monkeypatch):
    monkeypatch.setattr("core.admin.SEARCH_WINDOW", 2)
    now = timezone.now()
    for days, subject in ((3, "Facture ancienne"), (2, "Facture récente"), (1, "Autre")):
        email_create(subject=subject, received_at=now - timedelta(days=days))
    assert listed_subjects(admin_client.get(CHANGELIST, {"q": "facture"})) == {"Facture récente"}


def test_the_reception_date_filter_selects_today_in_the_configured_time_zone(admin_client):
    settings_update(time_zone="Europe/Paris")
    paris = ZoneInfo("Europe/Paris")
    midnight = timezone.now().astimezone(paris).replace(hour=0, minute=0, second=0, microsecond=0)
    email_create(subject="just after midnight", received_at=midnight + timedelta(minutes=1))
    email_create(subject="just before midnight", received_at=midnight - timedelta(minutes=1))
    html = admin_client.get(CHANGELIST).content.decode()
    today = html_unescape(re.search(r'<a href="(\?received_at__gte=[^"]+)">Today</a>', html).group(1))
    assert listed_subjects(admin_client.get(CHANGELIST + today)) == {"just after midnight"}


def test_the_detail_page_shows_links_decision_and_each_delivery(admin_client):
    email = email_create(decision={"detector": "recadrage", "endpoints": [3], "window": "deliver"})
    delivery = delivery_create(email, endpoint_create(name="billing"), attempts=[failed_attempt(503)])
    response = admin_client.get(f"{CHANGELIST}{email.pk}/change/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "https://www.dropbox.com/scl/fo/abc123/def" in html
    assert "&quot;detector&quot;: &quot;recadrage&quot;" in html and "<pre>{\n" in html
    assert f'href="/admin/webhooks/webhookdelivery/{delivery.pk}/change/"' in html
    assert "billing" in html and "upstream_server_error" in html
    assert 'name="_save"' not in html


def test_the_body_is_shown_escaped(admin_client):
    email = email_create(body='<script>alert("x")</script><p>Bonjour</p>')
    html = admin_client.get(f"{CHANGELIST}{email.pk}/change/").content.decode()
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in html
    assert '<script>alert("x")</script>' not in html


def test_the_detail_page_shows_recipients_headers_and_attachments_escaped(admin_client):
    email = email_create(
        recipients={"to": ["missions+paris@acme.fr"], "cc": [], "reply_to": [], "delivered_to": ["signal@acme.fr"]},
        headers={"list-id": "<missions.acme.fr>", "x-mailer": "<script>alert(1)</script>"},
        attachments=[{"name": "brief <v2>.pdf", "size": 48213, "content_type": "application/pdf"}],
    )
    html = admin_client.get(f"{CHANGELIST}{email.pk}/change/").content.decode()
    assert "<td>to</td><td>missions+paris@acme.fr</td>" in html
    assert "<td>delivered-to</td><td>signal@acme.fr</td>" in html
    assert "<td>cc</td>" not in html
    assert "<td>list-id</td><td>&lt;missions.acme.fr&gt;</td>" in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "<script>alert(1)" not in html
    assert "<td>brief &lt;v2&gt;.pdf</td><td>47.1\xa0KB</td><td>application/pdf</td>" in html


def test_the_detail_page_says_when_the_script_sent_no_recipients_headers_or_attachments(admin_client):
    html = admin_client.get(f"{CHANGELIST}{email_create().pk}/change/").content.decode()
    assert html.count("Not sent by the script.") == 2 and "None sent by the script." in html


def test_the_rerun_action_creates_the_missing_delivery_and_says_so(admin_client):
    endpoint = endpoint_create(name="default", is_default=True)
    email = email_create(status=InboundEmail.Status.SKIPPED_OUTSIDE_TIME_WINDOW)
    response = admin_client.post(
        CHANGELIST, {"action": "rerun_through_pipeline", "_selected_action": [email.pk]}, follow=True
    )
    assert response.status_code == 200
    assert "Re-ran 1 e-mail(s): 1 new delivery enqueued" in response.content.decode()
    assert WebhookDelivery.objects.get(email=email).endpoint == endpoint
    again = admin_client.post(
        CHANGELIST, {"action": "rerun_through_pipeline", "_selected_action": [email.pk]}, follow=True
    )
    assert "0 new deliveries enqueued; 1 endpoint(s) already had one" in again.content.decode()
    assert WebhookDelivery.objects.filter(email=email).count() == 1


def test_the_rerun_action_reports_a_refusal(admin_client):
    endpoint_create(name="default", is_default=True)
    settings_update(sending_enabled=False)
    email = email_create(status=InboundEmail.Status.SKIPPED_OUTSIDE_TIME_WINDOW)
    response = admin_client.post(
        CHANGELIST, {"action": "rerun_through_pipeline", "_selected_action": [email.pk]}, follow=True
    )
    assert "Nothing re-run: Webhook sending disabled." in response.content.decode()
    assert not WebhookDelivery.objects.exists()


def test_nobody_adds_an_email_by_hand(admin_client):
    assert admin_client.get(f"{CHANGELIST}add/").status_code == 403


def test_the_admin_index_links_to_the_overview(admin_client):
    html = admin_client.get("/admin/").content.decode()
    assert 'href="/admin/overview/"' in html
