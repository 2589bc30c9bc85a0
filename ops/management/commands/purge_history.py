from django.core.management.base import BaseCommand, CommandError

from ops.retention import PURGE_BATCH_SIZE, history_purge, history_purge_preview


class Command(BaseCommand):
    help = (
        "Delete e-mails, deliveries, attempts and link pairs older than --days days. "
        "E-mails with a delivery still pending, or created or attempted since then, are kept."
    )

    def add_arguments(self, parser):
        parser.add_argument("--days", type=int, required=True, help="Keep this many days of history (at least 1).")
        parser.add_argument("--batch-size", type=int, default=PURGE_BATCH_SIZE, help="Rows deleted per transaction.")
        parser.add_argument("--dry-run", action="store_true", help="Only count what would be deleted.")

    def handle(self, *args, days, batch_size, dry_run, **options):
        if days < 1:
            raise CommandError("--days must be at least 1.")
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1.")
        if dry_run:
            counts = history_purge_preview(days)
        else:
            counts = history_purge(days, batch_size=batch_size)
        verb = "Would delete" if dry_run else "Deleted"
        summary = ", ".join(f"{name.replace('_', ' ')} {count}" for name, count in counts.items())
        self.stdout.write(f"{verb} history older than {days} day(s): {summary}.")
