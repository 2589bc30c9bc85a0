"""manage.py import_legacy_config: legacy files and a real legacy Redis, through the shared import."""

import io
import json
import uuid
from pathlib import Path

import pytest
import redis
from django.core.management import CommandError, call_command

from configuration.models import IngressSettings, RuntimeFlags
from routing.models import RoutingRule
from tests.factories import endpoint_create
from webhooks.models import DeliverySettings, WebhookEndpoint

pytestmark = pytest.mark.django_db

LEGACY = Path(__file__).with_name("legacy")
FILES = [
    f"--{name.replace('_', '-')}={LEGACY / f'{name}.json'}"
    for name in ("webhook_config", "routing_rules", "processing_prefs", "runtime_flags")
]


def run(*args) -> str:
    out = io.StringIO()
    call_command("import_legacy_config", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def test_the_legacy_files_are_imported_onto_the_models():
    endpoint_create(name="seeded-from-env", is_default=True)

    run(*FILES)

    default = WebhookEndpoint.objects.get(name="default")
    assert (default.url, default.is_default, default.delivery_mode, default.success_requires_json) == (
        "https://hook.eu2.make.com/k7Yd2x9QpLmN3vB8", True, "legacy_form_header", True,
    )
    assert WebhookEndpoint.objects.get(name="Factures").url == "https://hooks.acme.fr/billing"
    assert WebhookEndpoint.objects.get(name="seeded-from-env").is_active is False
    prefs = IngressSettings.load()
    assert (prefs.window_start, prefs.window_end) == ("9h00", "17h30")
    assert DeliverySettings.load().retry_schedule_seconds == [0, 5, 5]
    assert prefs.absence_days == ["saturday", "sunday"]
    assert RuntimeFlags.load().allow_without_links is True
    assert list(RoutingRule.objects.order_by("position").values_list("name", "endpoint__name")) == [
        ("Factures", "Factures"), ("Relances", "Factures"), ("Urgences", "default"),
    ]


def test_the_report_says_what_was_mapped_what_was_not_and_why():
    out = run(*FILES)

    sections = [
        "Legacy documents:", "Mapped:", "Not mapped (and why):", "Behaves differently here, review:", "Imported:"
    ]
    assert [line for line in out.splitlines() if line in sections] == sections
    assert "  webhook_config.global_time_start: the legacy dashboard's second window" in out
    assert "  rules: replaced 0 rule(s) with 3" in out
    assert "k7Yd2x9QpLmN3vB8" not in out


def test_a_dry_run_reports_and_changes_nothing():
    out = run("--dry-run", *FILES)

    assert "Dry run: valid; nothing was changed." in out
    assert not WebhookEndpoint.objects.exists() and not RoutingRule.objects.exists()


def test_the_translated_document_can_be_written_for_review(tmp_path):
    target = tmp_path / "translated.json"

    run("--dry-run", f"--document-out={target}", *FILES)

    assert json.loads(target.read_text())["version"] == 1


def test_a_refused_configuration_changes_nothing_and_names_the_path(tmp_path):
    webhook_config = tmp_path / "webhook_config.json"
    webhook_config.write_text(json.dumps({"webhook_url": "https://example.com/hook", "webhook_time_start": "9h00",
                                          "webhook_time_end": "17h00"}))
    err = io.StringIO()

    with pytest.raises(CommandError, match="1 error"):
        call_command("import_legacy_config", f"--webhook-config={webhook_config}", stdout=io.StringIO(), stderr=err)

    assert "endpoints[0].url: 'example.com' is a placeholder host, not a real receiver." in err.getvalue()
    assert IngressSettings.load().window_start == ""


def test_a_source_is_required():
    with pytest.raises(CommandError, match="at least one legacy file"):
        run()


def test_an_unreadable_file_is_named(tmp_path):
    broken = tmp_path / "runtime_flags.json"
    broken.write_text("{oops")

    with pytest.raises(CommandError, match=f"{broken} is not valid JSON"):
        run(f"--runtime-flags={broken}")


@pytest.fixture
def legacy_redis(redis_url):
    """A real Redis holding legacy documents under a prefix of its own."""
    url = redis_url
    client = redis.Redis.from_url(url, decode_responses=True, socket_connect_timeout=2, socket_timeout=5)
    prefix = f"test-{uuid.uuid4().hex[:8]}:r:ss:config:"
    yield url, prefix, client
    for key in client.scan_iter(f"{prefix}*"):
        client.delete(key)
    client.close()


@pytest.mark.needs("redis")
def test_the_legacy_documents_are_read_from_redis(legacy_redis):
    url, prefix, client = legacy_redis
    for name in ("webhook_config", "routing_rules", "processing_prefs", "runtime_flags"):
        client.set(f"{prefix}{name}", (LEGACY / f"{name}.json").read_text())
    override = LEGACY / "runtime_flags.json"

    out = run(f"--redis-url={url}", f"--prefix={prefix}", f"--runtime-flags={override}")

    assert f"  webhook_config: redis key {prefix}webhook_config" in out
    assert f"  runtime_flags: file {override}" in out
    assert WebhookEndpoint.objects.get(is_default=True).url == "https://hook.eu2.make.com/k7Yd2x9QpLmN3vB8"
    assert RoutingRule.objects.count() == 3


@pytest.mark.needs("redis")
def test_documents_missing_from_redis_are_left_unchanged(legacy_redis):
    url, prefix, client = legacy_redis
    client.set(f"{prefix}runtime_flags", json.dumps({"gmail_ingress_enabled": False}))

    out = run(f"--redis-url={url}", f"--prefix={prefix}")

    assert "  routing_rules: not given (unchanged)" in out
    assert RuntimeFlags.load().ingress_enabled is False


def test_an_unreachable_redis_is_a_clear_error():
    with pytest.raises(CommandError, match="Cannot read the legacy Redis"):
        run("--redis-url=redis://127.0.0.1:1/0")
