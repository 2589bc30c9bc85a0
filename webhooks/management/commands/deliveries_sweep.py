"""Recover deliveries whose worker died mid-attempt and re-enqueue due deliveries that lost their task.

One pass by default (cron-friendly); `--loop` keeps sweeping every `--interval` seconds, which is how
`manage.py serve` runs it beside the worker. Several sweeps may run at once (every change is conditional).
Each pass also queues a worker heartbeat task, so /health/ready sees that a worker really consumes the queue.
"""

import logging
import os

from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError, close_old_connections

from signal_server.heartbeat import heartbeat_enqueue
from signal_server.shutdown import StopRequest
from webhooks.services import SWEEP_GRACE_SECONDS, deliveries_sweep

logger = logging.getLogger("webhooks")


class Command(BaseCommand):
    help = "Recover stuck deliveries and re-enqueue due ones without a task (one pass, or --loop)."

    def add_arguments(self, parser):
        parser.add_argument("--loop", action="store_true", help="Keep sweeping until SIGINT/SIGTERM.")
        parser.add_argument(
            "--interval", type=float, default=float(os.environ.get("DELIVERY_SWEEP_INTERVAL", "30")),
            help="Seconds between passes with --loop (default: DELIVERY_SWEEP_INTERVAL or 30).",
        )
        parser.add_argument(
            "--grace", type=float, default=float(os.environ.get("DELIVERY_SWEEP_GRACE", str(SWEEP_GRACE_SECONDS))),
            help="Seconds past a lease or due time before acting (default: DELIVERY_SWEEP_GRACE or 30).",
        )

    def handle(self, *args, loop, interval, grace, **options):
        if grace < 0:
            raise CommandError("--grace must be zero or more seconds.")
        if not loop:
            result = deliveries_sweep(grace=grace)
            heartbeat_enqueue()
            self.stdout.write(f"Sweep: recovered {result.recovered}, re-enqueued {result.requeued}.")
            return
        if interval <= 0:
            raise CommandError("--interval must be more than zero seconds.")
        stop = StopRequest()
        logger.info("Delivery sweep started (every %g s, grace %g s)", interval, grace)
        while not stop.requested:
            close_old_connections()
            try:
                result = deliveries_sweep(grace=grace)
                heartbeat_enqueue()
            except DatabaseError:
                # A database outage must not stop the service; the next pass tries again.
                logger.exception("Delivery sweep pass failed")
            else:
                if result.recovered or result.requeued:
                    logger.info("Delivery sweep: recovered %d, re-enqueued %d", result.recovered, result.requeued)
            stop.sleep(interval)
        logger.info("Delivery sweep stopped")
