import sys

from django.core.management.base import BaseCommand, CommandError

from configuration.document import ConfigDocumentInvalid, config_document_loads, config_import


class Command(BaseCommand):
    help = (
        "Apply a configuration document written by export_config: everything is validated as admin does "
        "and applied in one transaction, or nothing changes. Errors name the offending path."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", metavar="FILE", help="The JSON document, or - to read standard input.")
        parser.add_argument("--dry-run", action="store_true", help="Validate only; change nothing.")

    def handle(self, *args, file, dry_run=False, **options):
        text = config_text_read(file)
        try:
            report = config_import(config_document_loads(text), dry_run=dry_run)
        except ConfigDocumentInvalid as exc:
            raise config_errors_report(self, exc) from exc
        if dry_run:
            self.stdout.write("Dry run: the document is valid; nothing was changed. It would apply:")
        else:
            self.stdout.write("Imported:")
        for line in report.lines():
            self.stdout.write(f"  {line}")


def config_text_read(file: str) -> str:
    if file == "-":
        return sys.stdin.read()
    try:
        with open(file, encoding="utf-8") as handle:
            return handle.read()
    except (OSError, UnicodeDecodeError) as exc:
        raise CommandError(f"Cannot read {file}: {exc}") from exc


def config_errors_report(command: BaseCommand, exc: ConfigDocumentInvalid) -> CommandError:
    """Every error on stderr, one per line with its path; the CommandError to raise (exit status 1)."""
    for error in exc.errors:
        command.stderr.write(str(error))
    return CommandError(f"The document has {len(exc.errors)} error(s); nothing was changed.")
