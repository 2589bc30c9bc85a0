"""Each recorded e-mail carries its answer time: milliseconds from the push request's start to its decision."""

import time

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from ingress.models import InboundEmail
from ingress.services import InboundPush, email_ingest
from tests.factories import push_payload

pytestmark = pytest.mark.django_db


def test_a_recorded_push_carries_its_answer_time(push, default_endpoint):
    response = push(push_payload())
    assert response.status_code == 200
    answer_ms = InboundEmail.objects.get(email_id=response.json()["email_id"]).answer_ms
    assert answer_ms is not None and 0 <= answer_ms < 10_000


def test_a_skipped_push_carries_its_answer_time_too(push, default_endpoint):
    response = push(push_payload(body="<p>no link here</p>"))
    assert response.json()["status"] == "skipped_no_links"
    assert InboundEmail.objects.get().answer_ms is not None


def test_the_answer_time_counts_from_the_request_start_it_is_given(default_endpoint):
    payload = push_payload()
    push_ = InboundPush(sender=payload["sender"], body=payload["body"], subject=payload["subject"])
    email_ingest(push_, started=time.perf_counter() - 1.5)
    assert 1500 <= InboundEmail.objects.get().answer_ms < 11_500


def test_the_answer_time_is_written_by_the_e_mail_insert_itself(push, default_endpoint):
    with CaptureQueriesContext(connection) as queries:
        assert push(push_payload()).status_code == 200
    writes = [q["sql"] for q in queries if not q["sql"].startswith("SELECT")]
    email_writes = [sql for sql in writes if "ingress_inboundemail" in sql]
    assert len(email_writes) == 1
    assert email_writes[0].startswith("INSERT") and "answer_ms" in email_writes[0]


def test_batch_items_are_timed_from_the_one_request_start(push, default_endpoint):
    emails = [push_payload() for _ in range(3)]
    response = push({"emails": emails}, path="/api/ingress/gmail/batch")
    ids = [item["email_id"] for item in response.json()["results"]]
    answers = [InboundEmail.objects.get(email_id=email_id).answer_ms for email_id in ids]
    assert None not in answers and answers == sorted(answers)
