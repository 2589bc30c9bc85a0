from datetime import UTC, datetime

import pytest
from django.tasks import TaskResultStatus, default_task_backend
from django.tasks.signals import task_enqueued
from django_tasks_db.models import DBTaskResult

from webhooks.tasks import delivery_send_task

pytestmark = pytest.mark.django_db


def test_enqueue_writes_a_ready_task_row_with_its_arguments():
    result = delivery_send_task.enqueue(42)

    row = DBTaskResult.objects.get(pk=result.id)
    assert row.status == TaskResultStatus.READY
    assert row.args_kwargs == {"args": [42], "kwargs": {}}
    assert row.task_path == "webhooks.tasks.delivery_send_task"
    assert row.queue_name == "default" and row.backend_name == "default"


def test_enqueued_task_is_found_by_the_worker_query():
    result = delivery_send_task.enqueue(42)

    assert list(DBTaskResult.objects.ready().values_list("pk", flat=True)) == [result.db_result.pk]


def test_enqueue_with_run_after_keeps_the_task_back_until_then():
    later = datetime(2099, 1, 1, tzinfo=UTC)

    result = delivery_send_task.using(run_after=later).enqueue(42)

    assert DBTaskResult.objects.get(pk=result.id).run_after == later
    assert not DBTaskResult.objects.ready().exists()


def test_enqueue_result_reads_back_through_the_backend():
    result = delivery_send_task.enqueue(42)

    fetched = default_task_backend.get_result(result.id)
    assert fetched.status == TaskResultStatus.READY
    assert fetched.args == [42]


def test_enqueue_result_equals_the_one_the_row_rebuilds():
    # Guards the shortcut in enqueue() against a change of django-tasks-db's own TaskResult building.
    for task in (delivery_send_task, delivery_send_task.using(run_after=datetime(2099, 1, 1, tzinfo=UTC))):
        result = task.enqueue(42)

        assert result == result.db_result.task_result


def test_enqueue_sends_task_enqueued_once():
    received = []

    def receiver(sender, task_result, **kwargs):
        received.append(task_result.id)

    task_enqueued.connect(receiver)
    try:
        result = delivery_send_task.enqueue(42)
    finally:
        task_enqueued.disconnect(receiver)
    assert received == [result.id]
