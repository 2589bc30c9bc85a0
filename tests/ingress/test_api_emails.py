"""The inbound e-mail history API (SPEC §9): decisions, links and deliveries of recorded e-mails."""

from datetime import timedelta

import pytest
from django.utils import timezone

from ingress.models import InboundEmail
from tests.factories import push_payload
from tests.history_factories import (
    HISTORY_VIEW_PERMS,
    delivery_create,
    email_create,
    failed_attempt,
    ok_attempt,
    staff_create,
    token_client,
)

pytestmark = pytest.mark.django_db

EMAILS = "/api/emails/"


def email_ids(response) -> list[str]:
    return [item["email_id"] for item in response.json()["results"]]


def test_a_pushed_email_appears_with_its_decision_links_and_deliveries(api, push, default_endpoint):
    answer = push(push_payload(subject="Lot du jour")).json()
    body = api.get(EMAILS).json()
    assert len(body["results"]) == 1
    item = body["results"][0]
    assert item["email_id"] == answer["email_id"]
    assert item["status"] == "processed"
    assert item["subject"] == "Lot du jour"
    assert item["links"][0]["provider"] == "dropbox"
    assert item["decision"]["endpoints"] == [default_endpoint.pk]
    assert [d["id"] for d in item["deliveries"]] == [answer["deliveries"][0]["id"]]
    assert item["deliveries"][0]["endpoint"]["name"] == "default"
    assert item["deliveries"][0]["status"] == "pending"
    assert "body" not in item


def test_emails_are_listed_newest_first(api):
    now = timezone.now()
    old = email_create(received_at=now - timedelta(hours=5))
    new = email_create(received_at=now - timedelta(minutes=5))
    assert email_ids(api.get(EMAILS)) == [new.email_id, old.email_id]


def test_status_detector_and_sender_filters(api):
    recadrage = email_create(detector="recadrage", sender_email="a@media-solution.fr")
    skipped = email_create(status=InboundEmail.Status.SKIPPED_NO_LINKS, sender_email="b@acme.fr")
    plain = email_create(sender_email="b@acme.fr")
    assert email_ids(api.get(EMAILS, {"status": "skipped_no_links"})) == [skipped.email_id]
    assert email_ids(api.get(EMAILS, {"detector": "recadrage"})) == [recadrage.email_id]
    assert set(email_ids(api.get(EMAILS, {"detector": "none"}))) == {skipped.email_id, plain.email_id}
    assert set(email_ids(api.get(EMAILS, {"sender": "B@ACME.fr"}))) == {skipped.email_id, plain.email_id}


def test_since_until_and_subject_filters(api):
    now = timezone.now().replace(microsecond=0)
    email_create(received_at=now - timedelta(days=2), subject="Facture mars")
    wanted = email_create(received_at=now - timedelta(hours=3), subject="Facture avril")
    email_create(received_at=now - timedelta(hours=3), subject="Missions")
    got = email_ids(api.get(EMAILS, {"since": (now - timedelta(days=1)).isoformat(), "subject": "facture"}))
    assert got == [wanted.email_id]
    assert len(email_ids(api.get(EMAILS, {"until": (now - timedelta(days=1)).isoformat()}))) == 1


def test_sender_takes_an_address_or_a_from_value_and_matches_its_canonical_form(api):
    wanted = email_create(sender_email="technique@media-solution.fr")
    email_create(sender_email="other@media-solution.fr")
    for value in ("Technique <TECHNIQUE@Media-Solution.fr>", '"technique"@media-solution.fr.'):
        assert email_ids(api.get(EMAILS, {"sender": value})) == [wanted.email_id], value


@pytest.mark.parametrize("name", ["status", "until", "sender"])
def test_an_empty_filter_is_a_400_naming_it(api, name):
    response = api.get(f"{EMAILS}?{name}=")
    assert response.status_code == 400
    assert response.json() == {name: ["This parameter may not be empty."]}


def test_an_unknown_status_is_a_400(api):
    response = api.get(EMAILS, {"status": "lost"})
    assert response.status_code == 400 and "status" in response.json()


def test_detail_by_email_id_has_the_body_and_each_delivery_with_a_link(api):
    email = email_create(body="<p>Le corps complet</p>")
    delivery = delivery_create(email, attempts=[failed_attempt(500), ok_attempt()])
    body = api.get(f"{EMAILS}{email.email_id}/").json()
    assert body["body"] == "<p>Le corps complet</p>"
    assert body["deliveries"][0]["status"] == "succeeded"
    assert body["deliveries"][0]["attempt_count"] == 2
    assert body["deliveries"][0]["url"].endswith(f"/api/webhooks/deliveries/{delivery.pk}/")


def test_detail_answers_the_newest_record_when_deduplication_was_off(api):
    first = email_create(email_id="a" * 32, dedup_key=None, subject="first")
    InboundEmail.objects.filter(pk=first.pk).update(received_at=timezone.now() - timedelta(hours=1))
    email_create(email_id="a" * 32, dedup_key=None, subject="second")
    assert api.get(f"{EMAILS}{'a' * 32}/").json()["subject"] == "second"
    assert len(email_ids(api.get(EMAILS, {"email_id": "a" * 32}))) == 2


def test_an_unknown_email_id_is_a_json_404(api):
    response = api.get(f"{EMAILS}{'0' * 32}/")
    assert response.status_code == 404
    assert response.json()["detail"]


def test_anonymous_cannot_read_an_email(client):
    email = email_create()
    response = client.get(f"{EMAILS}{email.email_id}/")
    assert response.status_code == 401 and "body" not in response.json()


def email_paths() -> list[str]:
    email = email_create(body="<p>Confidential</p>")
    return [EMAILS, f"{EMAILS}{email.email_id}/"]


def test_a_staff_user_without_view_inboundemail_gets_a_json_403_on_the_list_and_the_detail():
    others = [perm for perm in HISTORY_VIEW_PERMS if perm != "ingress.view_inboundemail"]
    reader = token_client(staff_create(perms=others))
    for path in email_paths():
        response = reader.get(path)
        assert response.status_code == 403, path
        assert response.json() == {"detail": "You do not have permission to perform this action."}


def test_view_inboundemail_alone_opens_the_list_and_the_detail():
    reader = token_client(staff_create(perms=["ingress.view_inboundemail"]))
    assert [reader.get(path).status_code for path in email_paths()] == [200, 200]


def test_an_email_id_with_a_nul_character_is_a_404_not_a_crash(api):
    response = api.get(f"{EMAILS}ab%00cd/")
    assert response.status_code == 404 and response.json()["detail"]
