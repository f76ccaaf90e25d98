"""Services enqueue their Celery tasks by name (the task modules import the services, not the other way
round): each name must be one the worker registers."""

from hub.celery import app
from jobs.services import RUN_JOB_TASK
from replication.services import DISCOVER_SERVER_TASK
from replication.uploads import APPLY_REPLICATION_TASK


def test_every_task_enqueued_by_name_is_registered():
    app.loader.import_default_modules()  # what a worker imports at start: every app's tasks module
    for name in (RUN_JOB_TASK, DISCOVER_SERVER_TASK, APPLY_REPLICATION_TASK):
        assert name in app.tasks, name
