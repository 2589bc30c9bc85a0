"""apps_script/Code.gs run under Node.js against the real service and a real receiver (SPEC §10).

The service requires signed requests (INGRESS_HMAC_SECRET), so every delivery below also proves the
script's HMAC and its hex encoding of Apps Script's signed bytes.
"""

import hashlib
import json
import time
import uuid

import pytest

from core.headers import FORWARDED_HEADERS
from tests.apps_script.script import (
    LABEL,
    batches,
    item_answers,
    labels_of,
    mailbox,
    message,
    pushed,
    relabel,
    script_run,
    thread,
)
from tests.service import TOKEN, LiveService, free_port

pytestmark = [pytest.mark.e2e, pytest.mark.needs("node")]

HMAC_SECRET = "apps-script-hmac-secret"


@pytest.fixture(scope="module")
def service(receiver_live):
    live = LiveService(WEBHOOK_URL=receiver_live.url("/hook"), INGRESS_HMAC_SECRET=HMAC_SECRET).start()
    yield live
    live.stop()


@pytest.fixture
def properties(service):
    return {"SIGNAL_SERVER_URL": service.url(""), "PROCESS_API_TOKEN": TOKEN, "INGRESS_HMAC_SECRET": HMAC_SECRET}


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def delivered(receiver_live, message_ids: list[str], timeout: float = 15) -> list[dict]:
    """Payloads the receiver got for these Gmail message ids (the e-mail id is their md5)."""
    wanted = {hashlib.md5(m.encode()).hexdigest() for m in message_ids}
    deadline = time.monotonic() + timeout
    while True:
        got = [r.json() for r in receiver_live.wait_for(0, timeout=0) if r.json().get("email_id") in wanted]
        if len(got) >= len(wanted) or time.monotonic() > deadline:
            return got
        time.sleep(0.1)


def test_labelled_unread_messages_are_delivered_and_the_label_removed(service, receiver_live, properties):
    first, second, read = unique("m"), unique("m"), unique("m")
    scenario = mailbox(
        properties,
        thread("t1", message(first, "Lot 1"), message(read, "Déjà lu", unread=False), message(second, "Lot 2")),
        thread("t2", message(unique("m"), "Pas d'étiquette"), labelled=False),
    )

    state = script_run(scenario)

    assert pushed(state) == [(first, 200), (second, 200)]
    assert len(batches(state)) == 1
    assert labels_of(state, "t1") == []
    assert labels_of(state, "t2") == []
    payloads = delivered(receiver_live, [first, second])
    assert sorted(p["subject"] for p in payloads) == ["Lot 1", "Lot 2"]
    assert not delivered(receiver_live, [read], timeout=0)


def test_each_request_carries_the_gmail_fields_token_source_and_signature(service, properties):
    message_id = unique("m")
    state = script_run(mailbox(properties, thread("t1", message(message_id, "Champs"))))

    request = batches(state)[0]
    assert request["code"] == 200, request.get("response")
    sent = json.loads(request["body"])["emails"][0]
    assert request["url"] == service.url("/api/ingress/gmail/batch")
    assert set(sent) == {"sender", "subject", "date", "body", "snippet", "message_id"}
    assert sent["sender"] == "Technique <technique@media-solution.fr>"
    assert sent["date"] == "2026-04-10T09:54:38.000Z"
    assert sent["message_id"] == message_id
    assert "<a href=" in sent["body"]
    assert len(sent["snippet"]) == 200
    assert request["headers"]["Authorization"] == f"Bearer {TOKEN}"
    assert request["headers"]["X-Source"] == "GoogleAppsScript"
    assert request["headers"]["X-Signature"].startswith("sha256=")
    assert item_answers(state)[0]["status"] == "processed"


def stored_extras(service, message_id: str) -> dict:
    """What the service recorded of the message's recipients, headers and attachments."""
    return json.loads(
        service.shell(
            "import json; from ingress.models import InboundEmail as E;"
            f"print(json.dumps(E.objects.filter(message_id={message_id!r}).values("
            "'recipients', 'headers', 'attachments').get()))"
        )
    )


def test_recipients_headers_and_attachment_metadata_arrive_and_are_stored(service, receiver_live, properties):
    message_id = unique("m")
    mail = message(
        message_id,
        "Destinataires",
        to="Missions Paris <missions+paris@acme.fr>, \"Dupont, Marie\" <marie@acme.fr>",
        cc="jean@acme.fr",
        replyTo="Planning <planning@acme.fr>",
        headers={"Delivered-To": "signal@acme.fr", "List-Id": "<missions.acme.fr>", "X-Spam-Score": "2"},
        attachments=[
            {"name": "brief.pdf", "size": 48213, "contentType": "application/pdf"},
            {"name": "logo.png", "size": 512, "contentType": "image/png", "inline": True},
        ],
    )

    state = script_run(mailbox(properties, thread("t1", mail)))

    sent = json.loads(batches(state)[0]["body"])["emails"][0]
    assert sent["to"] == mail["to"] and sent["cc"] == "jean@acme.fr" and sent["delivered_to"] == "signal@acme.fr"
    assert sent["headers"] == {"List-Id": "<missions.acme.fr>"}
    assert sent["attachments"] == [{"name": "brief.pdf", "size": 48213, "content_type": "application/pdf"}]
    assert stored_extras(service, message_id) == {
        "recipients": {
            "to": ["missions+paris@acme.fr", "marie@acme.fr"], "cc": ["jean@acme.fr"],
            "reply_to": ["planning@acme.fr"], "delivered_to": ["signal@acme.fr"],
        },
        "headers": {"list-id": "<missions.acme.fr>"},
        "attachments": [{"name": "brief.pdf", "size": 48213, "content_type": "application/pdf"}],
    }
    payload = delivered(receiver_live, [message_id])[0]
    assert payload["recipients"] == {"to": ["missions+paris@acme.fr", "marie@acme.fr"], "cc": ["jean@acme.fr"]}
    assert payload["attachments"] == [{"name": "brief.pdf", "size": 48213, "content_type": "application/pdf"}]


def test_the_script_asks_gmail_for_every_forwarded_header(service, properties):
    message_id = unique("m")
    headers = {name: f"<{name.lower()}@acme.fr>" for name in FORWARDED_HEADERS}

    state = script_run(mailbox(properties, thread("t1", message(message_id, "En-têtes", headers=headers))))

    assert json.loads(batches(state)[0]["body"])["emails"][0]["headers"] == headers
    assert stored_extras(service, message_id)["headers"] == {name.lower(): v for name, v in headers.items()}


def test_values_over_the_service_limits_are_left_out_and_the_message_still_goes(service, properties):
    message_id = unique("m")
    mail = message(
        message_id,
        "Trop de tout",
        to=", ".join(f"destinataire-{n:05d}@acme.fr" for n in range(800)),
        cc="jean@acme.fr",
        headers={"References": "<ref@acme.fr> " * 1000, "List-Id": "<l.acme.fr>"},
        attachments=[{"name": "n" * 1200, "size": n, "contentType": "text/plain"} for n in range(120)],
    )

    state = script_run(mailbox(properties, thread("t1", mail)))

    sent = json.loads(batches(state)[0]["body"])["emails"][0]
    assert "to" not in sent and sent["cc"] == "jean@acme.fr"
    assert sent["headers"] == {"List-Id": "<l.acme.fr>"}
    assert len(sent["attachments"]) == 100 and len(sent["attachments"][0]["name"]) == 1000
    assert pushed(state) == [(message_id, 200)]


def test_a_rerun_of_a_relabelled_thread_delivers_nothing_twice(service, receiver_live, properties):
    message_id = unique("m")
    first = script_run(mailbox(properties, thread("t1", message(message_id, "Une fois"))))
    assert len(delivered(receiver_live, [message_id])) == 1

    second = script_run(relabel(first, "t1"))

    assert [a["status"] for a in item_answers(second)] == ["already_processed"]
    assert labels_of(second, "t1") == []
    time.sleep(1)
    assert len(delivered(receiver_live, [message_id], timeout=0)) == 1


def test_a_409_keeps_the_label_and_the_next_run_delivers(service, receiver_live, properties):
    message_id = unique("m")
    scenario = mailbox(properties, thread("t1", message(message_id, "Ingress coupé")))
    service.shell(
        "from configuration.models import RuntimeFlags; f = RuntimeFlags.load(); f.ingress_enabled = False; f.save()"
    )
    try:
        refused = script_run(scenario)
    finally:
        service.shell(
            "from configuration.models import RuntimeFlags; f = RuntimeFlags.load(); f.ingress_enabled = True; f.save()"
        )

    assert pushed(refused) == [(message_id, 409)]
    assert labels_of(refused, "t1") == [LABEL]
    assert any("HTTP 409 Gmail ingress disabled" in line for line in refused["logs"])
    assert not delivered(receiver_live, [message_id], timeout=1)

    retried = script_run(relabel(refused, "t1"))

    assert pushed(retried) == [(message_id, 200)]
    assert labels_of(retried, "t1") == []
    assert len(delivered(receiver_live, [message_id])) == 1


def test_a_thread_is_kept_when_only_some_of_its_messages_got_a_200(service, receiver_live, properties):
    good, empty = unique("m"), unique("m")
    scenario = mailbox(
        properties,
        thread("t1", message(good, "Bon"), message(empty, "Sans corps", body="")),
    )

    state = script_run(scenario)

    assert pushed(state) == [(good, 200), (empty, 400)]
    assert labels_of(state, "t1") == [LABEL]
    assert len(delivered(receiver_live, [good])) == 1


def test_a_network_error_keeps_the_label(properties):
    unreachable = {**properties, "SIGNAL_SERVER_URL": f"http://127.0.0.1:{free_port()}"}
    state = script_run(mailbox(unreachable, thread("t1", message(unique("m"), "Réseau"))))

    assert "error" in batches(state)[0]
    assert labels_of(state, "t1") == [LABEL]
    assert any("not sent, label kept" in line for line in state["logs"])
    assert any(line.startswith("Failure labels not updated:") for line in state["logs"])


def test_unsigned_pushes_are_refused_and_the_run_stops_at_the_first_401(service, properties):
    unsigned = {k: v for k, v in properties.items() if k != "INGRESS_HMAC_SECRET"}
    state = script_run(
        mailbox(unsigned, thread("t1", message(unique("m"), "A")), thread("t2", message(unique("m"), "B")))
    )

    assert [r["code"] for r in batches(state)] == [401]
    assert labels_of(state, "t1") == labels_of(state, "t2") == [LABEL]
    assert any("401" in line and "script properties" in line for line in state["logs"])
    assert "Failure labels not updated: HTTP 401 Unauthorized" in state["logs"]


def test_missing_properties_or_label_send_nothing(properties):
    no_token = script_run(
        mailbox({"SIGNAL_SERVER_URL": properties["SIGNAL_SERVER_URL"]}, thread("t1", message("m", "x")))
    )
    other_label = script_run(mailbox({**properties, "GMAIL_LABEL": "AUTRE"}, thread("t1", message("m", "x"))))

    assert no_token["requests"] == [] and batches(other_label) == []
    assert labels_of(no_token, "t1") == [LABEL]
    assert any("PROCESS_API_TOKEN" in line for line in no_token["logs"])
    assert any('"AUTRE" not found' in line for line in other_label["logs"])


def test_threads_per_run_bounds_one_run(service, properties):
    threads = [thread(f"t{i}", message(unique("m"), f"Lot {i}")) for i in range(3)]
    state = script_run(mailbox({**properties, "THREADS_PER_RUN": "2"}, *threads))

    assert len(pushed(state)) == 2
    assert [labels_of(state, f"t{i}") for i in range(3)] == [[], [], [LABEL]]


def test_install_trigger_replaces_the_previous_trigger():
    scenario = {**mailbox({"TRIGGER_MINUTES": "10"}, call="installTrigger")}
    scenario["triggers"] = [
        {"handler": "processWebhookTransfer", "everyMinutes": 5},
        {"handler": "other", "everyMinutes": 1},
    ]

    state = script_run(scenario)

    assert state["triggers"] == [
        {"handler": "other", "everyMinutes": 1},
        {"handler": "processWebhookTransfer", "everyMinutes": 10},
    ]


def test_a_run_sends_one_request_per_fifty_messages(service, receiver_live, properties):
    threads = [thread(f"t{i}", message(unique("m"), f"Lot {i}a"), message(unique("m"), f"Lot {i}b")) for i in range(30)]
    state = script_run(mailbox({**properties, "THREADS_PER_RUN": "30"}, *threads))

    assert [len(json.loads(r["body"])["emails"]) for r in batches(state)] == [50, 10]
    assert {code for _, code in pushed(state)} == {200}
    assert all(labels_of(state, f"t{i}") == [] for i in range(30))
    assert len(delivered(receiver_live, [m for m, _ in pushed(state)], timeout=30)) == 60


def test_requests_stay_within_max_request_bytes(service, properties):
    threads = [thread(f"t{i}", message(unique("m"), f"Gros {i}", body="é" * 1000)) for i in range(5)]
    state = script_run(mailbox({**properties, "MAX_REQUEST_BYTES": "6000"}, *threads))

    sizes = [len(r["body"].encode("utf-8")) for r in batches(state)]
    assert len(sizes) >= 3 and max(sizes) <= 6000
    assert [code for _, code in pushed(state)] == [200] * 5


def test_a_413_naming_a_smaller_limit_splits_the_batch_and_keeps_only_what_cannot_fit(receiver_live, properties):
    small = LiveService(
        WEBHOOK_URL=receiver_live.url("/small"), INGRESS_HMAC_SECRET=HMAC_SECRET, INGRESS_MAX_BYTES="6000"
    ).start()
    try:
        fits = [unique("m") for _ in range(3)]
        too_big = unique("m")
        threads = [thread(f"t{i}", message(m, f"Moyen {i}", body="x" * 2000)) for i, m in enumerate(fits)]
        threads.append(thread("big", message(too_big, "Trop gros", body="x" * 8000)))
        state = script_run(mailbox({**properties, "SIGNAL_SERVER_URL": small.url("")}, *threads))
    finally:
        small.stop()

    assert batches(state)[0]["code"] == 413
    assert dict(pushed(state)) == {**dict.fromkeys(fits, 200), too_big: 413}
    assert [labels_of(state, f"t{i}") for i in range(3)] == [[], [], []]
    assert labels_of(state, "big") == [LABEL]
    assert all(len(r["body"].encode("utf-8")) <= 6000 for r in batches(state)[1:] if too_big not in r["body"])


def test_a_rate_limited_message_keeps_its_label_and_the_log_says_when_to_retry(service, properties):
    sender = f"Pressé <{unique('presse')}@media-solution.fr>"
    first, second = unique("m"), unique("m")
    set_limit = (
        "from configuration.models import IngressSettings as S;"
        "s = S.load(); s.rate_limit_per_sender_per_hour = {}; s.save()"
    )
    service.shell(set_limit.format(1))
    try:
        threads = [
            thread("t1", message(first, "Un", **{"from": sender})),
            thread("t2", message(second, "Deux", **{"from": sender})),
        ]
        state = script_run(mailbox(properties, *threads))
    finally:
        service.shell(set_limit.format(0))

    assert pushed(state) == [(first, 200), (second, 429)]
    assert labels_of(state, "t1") == [] and labels_of(state, "t2") == [LABEL]
    assert any(f"message {second}: HTTP 429 Rate limit exceeded (retry after" in line for line in state["logs"])
