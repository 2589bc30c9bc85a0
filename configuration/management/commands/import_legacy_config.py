import json

import redis
from django.core.management.base import BaseCommand, CommandError

from configuration.document import ConfigDocumentInvalid, config_document_dumps, config_import
from configuration.legacy import (
    DEFAULT_ENDPOINT_NAME,
    LEGACY_DOCUMENTS,
    MAPPED,
    NOT_MAPPED,
    REVIEW,
    MappingNote,
    legacy_config_translate,
)
from configuration.management.commands.import_config import config_errors_report

LEGACY_PREFIX = "r:ss:config:"
REPORT_HEADINGS = {
    MAPPED: "Mapped:",
    NOT_MAPPED: "Not mapped (and why):",
    REVIEW: "Behaves differently here, review:",
}


class Command(BaseCommand):
    help = (
        "Import the legacy Flask app's configuration (webhook_config, routing_rules, processing_prefs, "
        "runtime_flags) from JSON files and/or its Redis, through the same validation as import_config, "
        "and print what was mapped, what was not, and why."
    )

    def add_arguments(self, parser):
        for name in LEGACY_DOCUMENTS:
            parser.add_argument(f"--{name.replace('_', '-')}", metavar="FILE", help=f"The legacy {name} JSON file.")
        parser.add_argument("--redis-url", metavar="URL", help="Read the documents missing from files from this Redis.")
        parser.add_argument("--prefix", default=LEGACY_PREFIX, help=f"Legacy key prefix (default {LEGACY_PREFIX}).")
        parser.add_argument(
            "--default-endpoint",
            default=DEFAULT_ENDPOINT_NAME,
            metavar="NAME",
            help="Name of the endpoint the legacy webhook_url becomes (default: default).",
        )
        parser.add_argument(
            "--rules-inactive",
            action="store_true",
            help="Import routing rules switched off, to review them in admin first.",
        )
        parser.add_argument("--document-out", metavar="FILE", help="Also write the translated config document to FILE.")
        parser.add_argument("--dry-run", action="store_true", help="Validate and report only; change nothing.")

    def handle(self, *args, **options):
        docs, origins = _documents_read(options)
        self._origins_report(origins)
        document, notes = legacy_config_translate(
            docs, default_endpoint_name=options["default_endpoint"], rules_active=not options["rules_inactive"]
        )
        self._notes_report(notes)
        if options["document_out"]:
            self._document_write(document, options["document_out"])
        self._document_import(document, dry_run=options["dry_run"])

    def _origins_report(self, origins: dict) -> None:
        self.stdout.write("Legacy documents:")
        for name in LEGACY_DOCUMENTS:
            self.stdout.write(f"  {name}: {origins.get(name, 'not given (unchanged)')}")

    def _notes_report(self, notes: list[MappingNote]) -> None:
        for kind, heading in REPORT_HEADINGS.items():
            selected = [n for n in notes if n.kind == kind]
            if selected:
                self.stdout.write(heading)
                for note in selected:
                    self.stdout.write(f"  {note}")

    def _document_write(self, document: dict, path: str) -> None:
        try:
            with open(path, "w", encoding="utf-8") as handle:
                handle.write(config_document_dumps(document))
        except OSError as exc:
            raise CommandError(f"Cannot write {path}: {exc}") from exc
        self.stdout.write(f"Wrote the translated document to {path}.")

    def _document_import(self, document: dict, *, dry_run: bool) -> None:
        try:
            report = config_import(document, dry_run=dry_run)
        except ConfigDocumentInvalid as exc:
            self.stderr.write("The translated configuration was refused:")
            raise config_errors_report(self, exc) from exc
        self.stdout.write("Dry run: valid; nothing was changed. It would apply:" if dry_run else "Imported:")
        for line in report.lines():
            self.stdout.write(f"  {line}")
        if not dry_run:
            self.stdout.write(
                "Next: point the Apps Script's SIGNAL_SERVER_URL at this service (README, Apps Script setup)."
            )


def _documents_read(options: dict) -> tuple[dict, dict]:
    """The legacy documents given as files, then from Redis those no file gave; and where each came from."""
    docs, origins = {}, {}
    for name in LEGACY_DOCUMENTS:
        path = options[name]
        if path:
            docs[name], origins[name] = _file_read(path), f"file {path}"
    if options["redis_url"]:
        for name, (doc, origin) in _redis_read(options["redis_url"], options["prefix"], docs).items():
            docs[name], origins[name] = doc, origin
    elif not docs:
        raise CommandError("Give at least one legacy file (--webhook-config …) or --redis-url.")
    return docs, origins


def _file_read(path: str):
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except (OSError, UnicodeDecodeError) as exc:
        raise CommandError(f"Cannot read {path}: {exc}") from exc
    except json.JSONDecodeError as exc:
        raise CommandError(f"{path} is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}") from exc


def _redis_read(url: str, prefix: str, already: dict) -> dict:
    """The legacy documents stored at `<prefix><name>` that no file already supplied."""
    found = {}
    try:
        client = redis.Redis.from_url(url, decode_responses=True, socket_timeout=5, socket_connect_timeout=5)
        for name in LEGACY_DOCUMENTS:
            if name in already:
                continue
            key = f"{prefix}{name}"
            raw = client.get(key)
            if raw is None:
                continue
            try:
                found[name] = (json.loads(raw), f"redis key {key}")
            except json.JSONDecodeError as exc:
                raise CommandError(f"Redis key {key} is not valid JSON: {exc.msg}") from exc
    except (redis.RedisError, ValueError) as exc:
        raise CommandError(f"Cannot read the legacy Redis: {exc}") from exc
    return found
