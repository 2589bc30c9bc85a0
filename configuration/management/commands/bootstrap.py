from django.core.management.base import BaseCommand

from configuration.services import config_seed_from_env, superuser_ensure_from_env


class Command(BaseCommand):
    help = (
        "First-start seeding: default endpoint from WEBHOOK_URL, allowlist, "
        "and the admin user from DJANGO_SUPERUSER_*."
    )

    def handle(self, *args, **options):
        for line in config_seed_from_env() + superuser_ensure_from_env():
            self.stdout.write(line)
