"""Failures back in Gmail: apps_script/Code.gs, run under Node.js against the real service, puts SIGNAL_ECHEC
on the threads of messages whose delivery failed for good, and takes it off once a replay delivered them.

The receiver answers 400 (never retried): a delivery fails for good at its first attempt. The service
requires signed requests, so each run also proves the signature of the failures query.
"""

import time
import uuid
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.apps_script.script import (
    FAILURE_LABEL,
    LABEL,
    failure_queries,
    labels_of,
    mailbox,
    message,
    pushed,
    relabel,
    script_run,
    thread,
)
from tests.receiver import Answer, Receiver
from tests.service import TOKEN, LiveService

pytestmark = [pytest.mark.e2e, pytest.mark.needs("node")]

HMAC_SECRET = "failure-labels-hmac-secret"


@pytest.fixture(scope="module")
def crm():
    receiver = Receiver(Answer(status=400, body='{"error": "unknown customer"}')).start()
    yield receiver
    receiver.stop()


@pytest.fixture(scope="module")
def service(crm):
    live = LiveService(WEBHOOK_URL=crm.url("/crm"), INGRESS_HMAC_SECRET=HMAC_SECRET).start()
    yield live
    live.stop()


@pytest.fixture
def properties(service, crm):
    crm.default = Answer(status=400, body='{"error": "unknown customer"}')
    return {"SIGNAL_SERVER_URL": service.url(""), "PROCESS_API_TOKEN": TOKEN, "INGRESS_HMAC_SECRET": HMAC_SECRET}


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def delivery_status_wait(service, message_id: str, wanted: str, timeout: float = 30) -> str:
    """The status of the message's delivery once it is `wanted` (or the last one seen at the timeout)."""
    code = (
        "from webhooks.models import WebhookDelivery as D;"
        f"print(D.objects.get(email__message_id={message_id!r}).status)"
    )
    deadline = time.monotonic() + timeout
    while True:
        status = service.shell(code).strip()
        if status == wanted or time.monotonic() > deadline:
            return status
        time.sleep(0.5)


def replay(service, message_id: str) -> None:
    """What an operator's replay does (admin or POST /api/webhooks/deliveries/<id>/replay/)."""
    service.shell(
        "from webhooks.models import WebhookDelivery as D; from webhooks.services.deliveries import delivery_replay;"
        f"delivery_replay(D.objects.get(email__message_id={message_id!r}))"
    )


def test_a_failed_delivery_labels_its_thread_and_a_successful_replay_unlabels_it(service, crm, properties):
    message_id = unique("m")
    pushed_run = script_run(mailbox(properties, thread("t1", message(message_id, "Échec"))))
    # The delivery may fail before the run asks for failures: then this run labels the thread already.
    assert pushed(pushed_run) == [(message_id, 200)] and LABEL not in labels_of(pushed_run, "t1")
    assert delivery_status_wait(service, message_id, "failed") == "failed"

    failed_run = script_run(relabel(pushed_run))

    query = failure_queries(failed_run)[0]
    assert query["code"] == 200 and query["headers"]["X-Signature"].startswith("sha256=")
    assert labels_of(failed_run, "t1") == [FAILURE_LABEL]
    assert FAILURE_LABEL in failed_run["labels"]

    crm.default = Answer()
    replay(service, message_id)
    assert delivery_status_wait(service, message_id, "succeeded") == "succeeded"

    recovered_run = script_run(relabel(failed_run))

    assert labels_of(recovered_run, "t1") == []


def test_a_failure_already_labelled_is_not_looked_up_in_gmail_again(service, properties):
    message_id = unique("m")
    pushed_run = script_run(mailbox(properties, thread("t1", message(message_id, "Une fois"))))
    delivery_status_wait(service, message_id, "failed")
    failed_run = script_run(relabel(pushed_run))
    assert message_id in pushed_run["lookups"] + failed_run["lookups"]

    again = script_run(relabel(failed_run))

    assert again["lookups"] == [] and labels_of(again, "t1") == [FAILURE_LABEL]


def test_a_thread_keeps_the_label_while_one_of_its_messages_is_still_failed(service, crm, properties):
    first, second = unique("m"), unique("m")
    custom = {**properties, "FAILURE_LABEL": "LIVRAISON_KO"}
    pushed_run = script_run(mailbox(custom, thread("t1", message(first, "Un"), message(second, "Deux"))))
    for message_id in (first, second):
        delivery_status_wait(service, message_id, "failed")
    failed_run = script_run(relabel(pushed_run))
    assert labels_of(failed_run, "t1") == ["LIVRAISON_KO"]

    crm.default = Answer()
    replay(service, first)
    delivery_status_wait(service, first, "succeeded")
    half_run = script_run(relabel(failed_run))

    assert labels_of(half_run, "t1") == ["LIVRAISON_KO"]


def test_a_failed_message_no_longer_in_gmail_is_logged_and_the_others_labelled(service, properties):
    kept, deleted = unique("m"), unique("m")
    pushed_run = script_run(
        mailbox(properties, thread("t1", message(kept, "Gardé")), thread("t2", message(deleted, "Supprimé")))
    )
    for message_id in (kept, deleted):
        delivery_status_wait(service, message_id, "failed")
    without_t2 = relabel(pushed_run)
    without_t2["threads"] = [t for t in without_t2["threads"] if t["id"] != "t2"]
    without_t2["cache"] = {}  # expired: every listed failure is looked up again

    state = script_run(without_t2)

    assert labels_of(state, "t1") == [FAILURE_LABEL]
    assert any(f"message {deleted}: not found in Gmail" in line for line in state["logs"])


def test_the_query_looks_back_failure_lookback_days(service, properties):
    state = script_run(mailbox({**properties, "FAILURE_LOOKBACK_DAYS": "2"}))

    query = failure_queries(state)[0]
    assert query["code"] == 200
    since = datetime.fromisoformat(parse_qs(urlsplit(query["url"]).query)["since"][0])
    assert abs(since - (datetime.now(UTC) - timedelta(days=2))) < timedelta(minutes=1)
