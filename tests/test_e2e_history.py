"""End to end on the real service (gunicorn + worker): a script with a token reads what was delivered,
and readiness follows the worker heartbeat."""

import time

import pytest
import requests

from tests.service import LiveService

pytestmark = pytest.mark.e2e

DROPBOX = "https://www.dropbox.com/scl/fo/abc123/def?rlkey=xyz&dl=0"


@pytest.fixture(scope="module")
def service(receiver_live):
    live = LiveService(
        WEBHOOK_URL=receiver_live.url("/hook"),
        DJANGO_SUPERUSER_USERNAME="ops",
        DJANGO_SUPERUSER_PASSWORD="ops-pass-2026",
    ).start()
    live.api_token = live.manage("drf_create_token", "ops").split()[2]
    yield live
    live.stop()


def api_get(service, path: str, **params) -> dict:
    response = requests.get(
        service.url(path), params=params, headers={"Authorization": f"Token {service.api_token}"}, timeout=10
    )
    assert response.status_code == 200, response.text
    return response.json()


def test_a_script_with_a_token_reads_the_delivery_it_just_caused(service, receiver_live):
    pushed = service.push({
        "sender": "Technique <technique@media-solution.fr>",
        "subject": "Lot 12 à livrer",
        "body": f'<p>Fichiers : <a href="{DROPBOX.replace("&", "&amp;")}">lien</a></p>',
        "message_id": "e2e-history-1",
    })
    assert pushed.status_code == 200, pushed.text
    email_id = pushed.json()["email_id"]
    assert receiver_live.wait_for(1, timeout=15, path="/hook"), service.log()[-3000:]

    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        deliveries = api_get(service, "/api/webhooks/deliveries/", email_id=email_id)["results"]
        if deliveries and deliveries[0]["status"] == "succeeded":
            break
        time.sleep(0.2)
    assert deliveries[0]["status"] == "succeeded", deliveries
    assert deliveries[0]["endpoint"]["name"] == "default"

    email = api_get(service, f"/api/emails/{email_id}/")
    assert email["status"] == "processed" and email["deliveries"][0]["id"] == deliveries[0]["id"]
    logs = api_get(service, "/api/webhook_logs", days=1)
    assert logs["success"] is True and logs["days_filter"] == 1
    assert [(e["email_id"], e["status"], e["status_code"]) for e in logs["logs"]] == [(email_id, "success", 200)]


def test_readiness_waits_for_a_worker_heartbeat(service):
    response = service.wait_ready(timeout=15)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["checks"]["worker"]["last_beat_age_seconds"] < 15
    assert body["checks"]["database"]["ok"] and body["checks"]["cache"]["ok"]
