from django.tasks import task

from webhooks.services import delivery_send


@task
def delivery_send_task(delivery_id: int) -> str | None:
    return delivery_send(delivery_id)
