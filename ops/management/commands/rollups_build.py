from django.core.management.base import BaseCommand

from ops.rollups import rollups_build


class Command(BaseCommand):
    help = (
        "Roll up the whole history into the overview's hourly figures now, in short transactions. The delivery "
        "workers do it on their own a little at each tick; this is for a large history right after an upgrade."
    )

    def handle(self, *args, **options):
        ticks = rollups_build()
        self.stdout.write(f"History rolled up ({ticks} step(s)).")
