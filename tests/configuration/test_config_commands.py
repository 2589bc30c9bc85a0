"""manage.py export_config / import_config: files, stdin, exit status and errors one per line."""

import io
import json
import os
import stat

import pytest
from django.core.management import CommandError, call_command

from configuration.models import RuntimeFlags
from tests.factories import endpoint_create
from webhooks.models import WebhookEndpoint

pytestmark = pytest.mark.django_db


def run(*args, stdin: str | None = None, monkeypatch=None) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    if stdin is not None:
        monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    call_command(*args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_export_config_prints_the_document_on_stdout():
    endpoint_create(name="default", is_default=True, secret="s3cret")

    out, _ = run("export_config")

    exported = json.loads(out)
    assert exported["version"] == 1 and exported["endpoints"][0]["name"] == "default"
    assert "s3cret" not in out


def test_export_config_writes_a_private_file_with_secrets_on_request(tmp_path):
    endpoint_create(name="default", is_default=True, secret="s3cret")
    target = tmp_path / "config.json"

    _, err = run("export_config", "--include-secrets", "--output", str(target))

    assert json.loads(target.read_text())["endpoints"][0]["secret"] == "s3cret"
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o600
    assert "with secrets" in err


def test_import_config_applies_a_file_and_reports_what_changed(tmp_path):
    endpoint_create(name="default", is_default=True)
    source = tmp_path / "config.json"
    source.write_text(json.dumps({"version": 1, "flags": {"allow_without_links": True}}))

    out, _ = run("import_config", str(source))

    assert RuntimeFlags.load().allow_without_links is True
    assert "flags: changed allow_without_links" in out
    assert "left unchanged (absent from the document): settings, endpoints, rules" in out


def test_import_config_reads_stdin(monkeypatch):
    endpoint_create(name="default", is_default=True)

    run("import_config", "-", stdin='{"version": 1, "endpoints": [{"name": "default", "timeout_seconds": 9}]}',
        monkeypatch=monkeypatch)

    assert WebhookEndpoint.objects.get().timeout_seconds == 9


def test_import_config_lists_every_error_on_stderr_and_exits_non_zero(tmp_path):
    source = tmp_path / "bad.json"
    source.write_text(json.dumps({
        "version": 1,
        "settings": {"window_start": "7h", "window_end": "18h00", "time_zone": "Mars/Olympus"},
        "flags": {"ingress_enabled": "no"},
    }))
    err = io.StringIO()

    with pytest.raises(CommandError, match="3 error"):
        call_command("import_config", str(source), stdout=io.StringIO(), stderr=err)

    assert err.getvalue().splitlines() == [
        "settings.time_zone: Unknown time zone 'Mars/Olympus'.",
        "settings.window_start: Use HHhMM or HH:MM (00h00 to 23h59).",
        "flags.ingress_enabled: must be true or false, not a string",
    ]
    assert RuntimeFlags.load().ingress_enabled is True


def test_import_config_reports_where_the_json_is_broken(tmp_path):
    source = tmp_path / "broken.json"
    source.write_text('{"version": 1,\n "flags": {"ingress_enabled": true,}}')
    err = io.StringIO()

    with pytest.raises(CommandError):
        call_command("import_config", str(source), stdout=io.StringIO(), stderr=err)

    assert err.getvalue().startswith("(document): not valid JSON: ")
    assert "line 2" in err.getvalue()


def test_import_config_dry_run_changes_nothing(tmp_path):
    endpoint_create(name="default", is_default=True)
    source = tmp_path / "config.json"
    source.write_text(json.dumps({"version": 1, "flags": {"ingress_enabled": False}}))

    out, _ = run("import_config", "--dry-run", str(source))

    assert out.startswith("Dry run: the document is valid; nothing was changed.")
    assert "flags: changed ingress_enabled" in out
    assert RuntimeFlags.load().ingress_enabled is True


def test_import_config_names_a_missing_file():
    with pytest.raises(CommandError, match="Cannot read /nonexistent/config.json"):
        call_command("import_config", "/nonexistent/config.json", stdout=io.StringIO(), stderr=io.StringIO())


@pytest.mark.parametrize(
    "host", ["[::127.0.0.1]", "[::7f00:1]", "[::ffff:0:7f00:1]", "[64:ff9b::a9fe:a9fe]", "[64:ff9b::7f00:1]"]
)
def test_import_config_refuses_an_endpoint_at_an_ipv4_address_hidden_in_ipv6(tmp_path, settings, host):
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = False
    endpoint_create(name="default", is_default=True, url="https://hooks.acme.fr/in")
    source = tmp_path / "config.json"
    source.write_text(json.dumps({"version": 1, "endpoints": [{"name": "default", "url": f"https://{host}/in"}]}))
    err = io.StringIO()

    with pytest.raises(CommandError, match="1 error"):
        call_command("import_config", str(source), stdout=io.StringIO(), stderr=err)

    assert err.getvalue().startswith("endpoints[0].url: ") and "points to a non-public address" in err.getvalue()
    assert WebhookEndpoint.objects.get().url == "https://hooks.acme.fr/in"
