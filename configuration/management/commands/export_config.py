import os

from django.core.management.base import BaseCommand, CommandError

from configuration.document import config_document_dumps, config_export


class Command(BaseCommand):
    help = (
        "Print the configuration (settings, flags, endpoints, routing rules) as one JSON document "
        "that import_config applies. Signing secrets and custom headers only with --include-secrets."
    )

    def add_arguments(self, parser):
        parser.add_argument("--output", "-o", metavar="FILE", help="Write to FILE (mode 0600) instead of stdout.")
        parser.add_argument(
            "--include-secrets",
            action="store_true",
            help="Also write each endpoint's signing secret and custom headers (they often carry API keys).",
        )

    def handle(self, *args, output=None, include_secrets=False, **options):
        text = config_document_dumps(config_export(include_secrets=include_secrets))
        if not output:
            self.stdout.write(text, ending="")
            return
        # Endpoint URLs can embed tokens (Make.com hooks), so the file is private even without secrets.
        try:
            fd = os.open(output, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            os.fchmod(fd, 0o600)  # also when the file already existed with a wider mode
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(text)
        except OSError as exc:
            raise CommandError(f"Cannot write {output}: {exc}") from exc
        what = "with" if include_secrets else "without"
        self.stderr.write(f"Wrote the configuration ({what} secrets) to {output}.")
