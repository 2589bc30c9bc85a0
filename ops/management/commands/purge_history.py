from django.core.management.base import BaseCommand, CommandError

from ops.retention import HistoryPurge, history_purge, history_purge_preview

BAR_WIDTH = 30


class Command(BaseCommand):
    help = (
        "Delete e-mails, deliveries, attempts and link pairs older than --days days, in short transactions "
        "(ingress keeps answering). E-mails with a delivery still pending, or created or attempted since then, "
        "are kept."
    )

    def add_arguments(self, parser):
        parser.add_argument("--days", type=int, required=True, help="Keep this many days of history (at least 1).")
        parser.add_argument(
            "--batch-size", type=int, help="E-mails per transaction (default: sized to keep each under ~50 ms)."
        )
        parser.add_argument("--dry-run", action="store_true", help="Only count what would be deleted.")

    def handle(self, *args, days, batch_size, dry_run, **options):
        if days < 1:
            raise CommandError("--days must be at least 1.")
        if batch_size is not None and batch_size < 1:
            raise CommandError("--batch-size must be at least 1.")
        if dry_run:
            counts = history_purge_preview(days)
        else:
            self._shown = -1
            counts = history_purge(days, batch_size=batch_size, on_batch=self._progress)
            if self.stdout.isatty():
                self.stdout.write("")
        verb = "Would delete" if dry_run else "Deleted"
        summary = ", ".join(f"{name.replace('_', ' ')} {count}" for name, count in counts.items())
        self.stdout.write(f"{verb} history older than {days} day(s): {summary}.")

    def _progress(self, purge: HistoryPurge) -> None:
        """A bar redrawn in place on a terminal; otherwise a plain line at each tenth of the way."""
        total = max(purge.total or 0, 1)
        share = min(purge.examined / total, 1.0) if purge.phase == 0 else 1.0
        deleted = ", ".join(f"{name.replace('_', ' ')} {count}" for name, count in purge.counts.items())
        status = f"{purge.examined}/{purge.total} old e-mails looked at; deleted {deleted}; " \
            f"longest transaction {purge.max_lock_ms} ms"
        if self.stdout.isatty():
            filled = round(share * BAR_WIDTH)
            self.stdout.write(f"\r[{'#' * filled}{'.' * (BAR_WIDTH - filled)}] {share:4.0%} {status}", ending="")
            self.stdout.flush()
        elif int(share * 10) > self._shown:
            self._shown = int(share * 10)
            self.stdout.write(f"{share:.0%} {status}")
