"""The admin in headless Chromium (SPEC §11): log in, read the overview, act on deliveries and e-mails.

Debian's /usr/bin/chromium is driven by Playwright (the Python package only: no downloaded browser).
The overview screenshot lands in var/screenshots/overview.png, kept by CI as an artifact.
"""

import tempfile
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.conf import settings

from ingress.models import InboundEmail
from tests.factories import endpoint_create
from tests.history_factories import delivery_create, email_create, failed_attempt, ok_attempt, staff_create
from webhooks.models import WebhookDelivery
from webhooks.services.heartbeat import heartbeat_record

pytestmark = [pytest.mark.e2e, pytest.mark.needs("chromium")]

CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
SCREENSHOT = Path(settings.BASE_DIR) / "var" / "screenshots" / "overview.png"
USERNAME, PASSWORD = "operator", "browser-pass-2026"
TIMEOUT_MS = 10_000


@pytest.fixture(scope="module")
def browser(chromium_path):
    from playwright.sync_api import sync_playwright

    with (
        pytest.MonkeyPatch.context() as patch,
        tempfile.TemporaryDirectory(prefix="signal-chromium-") as profile,
        sync_playwright() as playwright,
    ):
        # Playwright's sync API keeps an event loop on this thread; the ORM calls the tests make are plain sync code.
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        context = playwright.chromium.launch_persistent_context(
            profile, executable_path=chromium_path, headless=True, args=CHROMIUM_ARGS,
            viewport={"width": 1400, "height": 1000},
        )
        context.set_default_timeout(TIMEOUT_MS)
        yield context
        context.close()


@pytest.fixture
def page(browser, live_server):
    page = browser.new_page()
    external: list[str] = []

    def only_local(route):
        if urlsplit(route.request.url).hostname in ("127.0.0.1", "localhost"):
            route.continue_()
        else:
            external.append(route.request.url)
            route.abort()

    page.route("**/*", only_local)
    page.external_requests = external
    yield page
    page.close()


@pytest.fixture
def logged_in(page, live_server):
    staff_create(USERNAME, password=PASSWORD, is_superuser=True)
    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", USERNAME)
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url(f"{live_server.url}/admin/")
    return page


@pytest.fixture
def history():
    """Today's traffic: a delivered e-mail, a failed one, a skipped one, and a live worker."""
    default = endpoint_create(name="default", is_default=True)
    delivered = email_create(subject="Lot 107 livré", detector="recadrage")
    delivery_create(delivered, default, attempts=[failed_attempt(502), ok_attempt()])
    failing = email_create(subject="Lot 108 en échec")
    failed = delivery_create(failing, default, attempts=[failed_attempt(500), failed_attempt(503)])
    skipped = email_create(subject="Lot 109 hors fenêtre", status=InboundEmail.Status.SKIPPED_OUTSIDE_TIME_WINDOW)
    heartbeat_record("worker-1")
    return {"delivered": delivered, "failing": failing, "failed": failed, "skipped": skipped, "endpoint": default}


def test_the_overview_draws_its_charts_from_local_assets_only(logged_in, live_server, history):
    page = logged_in
    page.click("text=Overview")
    page.wait_for_url(f"{live_server.url}/admin/overview/")
    for chart in ("chart-emails", "chart-deliveries", "chart-providers", "chart-reasons"):
        assert page.locator(f"#{chart} svg.chart rect.bar").count() > 0, chart
    emails_box = page.locator("#chart-emails svg.chart").bounding_box()
    assert emails_box["width"] > 400 and emails_box["height"] > 100
    assert page.locator("#chart-emails svg.chart").get_attribute("data-total") == "3"
    assert page.locator("#today .value").first.inner_text() == "3"
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOT), full_page=True)
    assert SCREENSHOT.stat().st_size > 10_000
    assert page.external_requests == []


def action_run(page, changelist_url: str, pk: int, action: str) -> str:
    """Tick one row of an admin list, run an action on it, and return the success message."""
    page.goto(changelist_url)
    page.check(f"input[name=_selected_action][value='{pk}']")
    page.select_option("select[name=action]", action)
    page.click("button[name=index]")
    return page.locator(".messagelist .success").inner_text()


def test_replaying_a_failed_delivery_with_one_action(logged_in, live_server, history):
    page = logged_in
    failed = history["failed"]
    deliveries = f"{live_server.url}/admin/webhooks/webhookdelivery/?status__exact=failed"
    assert "1 deliveries queued again." in action_run(page, deliveries, failed.pk, "replay")
    failed.refresh_from_db()
    assert failed.status == WebhookDelivery.Status.PENDING and failed.series == 2
    assert page.external_requests == []


def test_an_inbound_email_detail_shows_links_decision_and_deliveries(logged_in, live_server, history):
    page = logged_in
    page.goto(f"{live_server.url}/admin/ingress/inboundemail/")
    page.click("text=Lot 108 en échec")
    page.wait_for_url(f"**/admin/ingress/inboundemail/{history['failing'].pk}/change/")
    assert page.locator("text=https://www.dropbox.com/scl/fo/abc123/def").first.is_visible()
    assert "detector" in page.locator(".field-decision_pretty pre").inner_text()
    inline = page.locator(f"a[href='/admin/webhooks/webhookdelivery/{history['failed'].pk}/change/']").first
    assert inline.is_visible()
    inline.click()
    page.wait_for_url(f"**/admin/webhooks/webhookdelivery/{history['failed'].pk}/change/")
    assert page.external_requests == []


def test_rerunning_a_skipped_email_from_the_list(logged_in, live_server, history):
    page = logged_in
    skipped = history["skipped"]
    emails = f"{live_server.url}/admin/ingress/inboundemail/?status__exact=skipped_outside_time_window"
    assert "1 new delivery enqueued" in action_run(page, emails, skipped.pk, "rerun_through_pipeline")
    assert WebhookDelivery.objects.filter(email=skipped, endpoint=history["endpoint"]).count() == 1


def test_the_api_docs_render_offline(logged_in, live_server):
    page = logged_in
    page.goto(f"{live_server.url}/api/docs/")
    page.wait_for_selector(".swagger-ui .info .title")
    assert "Signal Server API" in page.locator(".swagger-ui .info .title").inner_text()
    assert page.locator(".opblock-summary-path", has_text="/api/webhook_logs").count() == 1
    assert page.external_requests == []


def test_generate_fills_a_new_signing_secret_in_the_browser_and_save_stores_it(logged_in, live_server):
    page = logged_in
    endpoint = endpoint_create(name="acme", secret="whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
    page.goto(f"{live_server.url}/admin/webhooks/webhookendpoint/{endpoint.pk}/change/")
    assert endpoint.secret not in page.content()
    page.click("#generate-secret")  # runs only if the CSP nonce lets the page's script in
    generated = page.input_value("#id_new_secret")
    page.click("input[name=_save]")
    page.wait_for_url(f"{live_server.url}/admin/webhooks/webhookendpoint/")
    endpoint.refresh_from_db()
    assert endpoint.secret == generated and generated.startswith("whsec_")
    assert f"whsec_…{generated[-4:]}" in page.content() and generated not in page.content()
