from django.conf import settings
from django.tasks import task

from signal_server.web_activity import web_quiet_wait
from webhooks.services import delivery_send


@task
def delivery_send_task(delivery_id: int) -> str | None:
    web_quiet_wait(settings.TASK_WORKER_YIELD_MS / 1000)  # ingress first (signal_server.web_activity)
    return delivery_send(delivery_id)
