"""The django-tasks-db backend, writing its task row with the ingress path's compiled INSERT."""

from django_tasks_db.backend import DatabaseBackend as BaseDatabaseBackend
from django_tasks_db.backend import TaskResult
from django_tasks_db.compat import TaskResultStatus, normalize_json, task_enqueued
from django_tasks_db.utils import normalize_uuid

from signal_server.inserts import row_insert


class DatabaseBackend(BaseDatabaseBackend):
    def _task_to_db_task(self, task, args, kwargs):
        from django_tasks_db.models import DBTaskResult

        return row_insert(
            DBTaskResult(
                id=self._get_id(),
                args_kwargs=normalize_json({"args": args, "kwargs": kwargs}),
                priority=task.priority,
                task_path=task.module_path,
                queue_name=task.queue_name,
                run_after=task.run_after,
                backend_name=self.alias,
            )
        )

    def enqueue(self, task, args, kwargs):
        # As the parent's, but the TaskResult is built once and from `task` itself: the row's
        # `task_result` would import the task back by its path and validate a copy of it again.
        self.validate_task(task)
        db_task = self._task_to_db_task(task, args, kwargs)
        result = TaskResult(
            db_result=db_task,
            task=task,
            id=normalize_uuid(db_task.id),
            status=TaskResultStatus.READY,
            enqueued_at=db_task.enqueued_at,
            started_at=None,
            last_attempted_at=None,
            finished_at=None,
            args=db_task.args_kwargs["args"],
            kwargs=db_task.args_kwargs["kwargs"],
            backend=self.alias,
            errors=[],
            worker_ids=db_task.worker_ids,
        )
        task_enqueued.send(type(self), task_result=result)
        return result
