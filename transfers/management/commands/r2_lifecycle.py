"""Set the bucket rule that deletes copied files after N days (SPEC §8)."""

import json

from botocore.exceptions import BotoCoreError, ClientError
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from transfers.services import bucket_lifecycle_apply
from transfers.storage import storage_configured


class Command(BaseCommand):
    help = "Put the bucket lifecycle rule that expires copied files (idempotent) and print it."

    def add_arguments(self, parser):
        parser.add_argument(
            "--days", type=int, default=None,
            help="Days before a copied file is deleted (default: R2_LINK_TTL_DAYS, itself 1 by default).",
        )

    def handle(self, *args, **options):
        days = settings.R2_LINK_TTL_DAYS if options["days"] is None else options["days"]
        if days < 1:
            raise CommandError("--days must be at least 1.")
        if not storage_configured():
            raise CommandError("Set R2_ENDPOINT_URL, R2_BUCKET, R2_ACCESS_KEY_ID and R2_SECRET_ACCESS_KEY first.")
        if days < settings.R2_LINK_TTL_DAYS:
            self.stderr.write(
                f"Warning: files are deleted after {days} day(s) but links are reused for "
                f"R2_LINK_TTL_DAYS={settings.R2_LINK_TTL_DAYS}; lower R2_LINK_TTL_DAYS to match."
            )
        try:
            rule = bucket_lifecycle_apply(days)
        except ClientError as exc:
            error = exc.response.get("Error", {})
            raise CommandError(f"The bucket refused the rule: {error.get('Code')} {error.get('Message', '')}") from exc
        except BotoCoreError as exc:
            raise CommandError(f"Could not reach the bucket: {exc}") from exc
        self.stdout.write(f"Lifecycle rule on bucket {settings.R2_BUCKET}:")
        self.stdout.write(json.dumps(rule, indent=2))
