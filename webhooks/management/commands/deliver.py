"""The delivery worker: `manage.py deliver` sends due deliveries until SIGTERM or SIGINT."""

import logging
import os
import signal
import sys

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from webhooks.worker import DeliveryWorker

logger = logging.getLogger("webhooks")


class Command(BaseCommand):
    help = "Send due webhook deliveries, up to --concurrency at once, until SIGTERM/SIGINT (or --drain)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--concurrency", type=int, default=settings.DELIVERY_CONCURRENCY,
            help=f"Deliveries sent at once (default: DELIVERY_CONCURRENCY, {settings.DELIVERY_CONCURRENCY}).",
        )
        parser.add_argument("--worker-id", default="", help="Name in heartbeats and logs (default: host-pid).")
        parser.add_argument(
            "--drain", action="store_true", help="Stop once nothing is due and nothing is in flight (cron, tests)."
        )

    def handle(self, *args, concurrency, worker_id, drain, **options):
        if not 1 <= concurrency <= 1000:
            raise CommandError("--concurrency must be between 1 and 1000.")
        worker = DeliveryWorker(
            concurrency=concurrency, poll_seconds=settings.DELIVERY_POLL_SECONDS,
            stop_grace=settings.DELIVERY_STOP_GRACE_SECONDS, worker_id=worker_id,
            ingress_yield=settings.DELIVERY_INGRESS_YIELD_SECONDS,
        )

        def stop(signum, frame):
            name = signal.Signals(signum).name
            logger.warning("PROCESS: %s received; delivery worker %s stops", name, worker.worker_id)
            worker.stop()

        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, stop)
        worker.run(drain=drain)
        if worker.senders_alive():
            # Sends still running past the grace were handed back to the queue: do not wait for them.
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(0)
