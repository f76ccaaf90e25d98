"""The generic job engine and the live-update transport; it names no domain app.

- models.py: Job (ASR-shaped: scenario, state, ordered tasks, errors, target) and Notification;
- scenarios.py: the registry domain apps fill with their scenarios (ordered, idempotent steps);
- services.py: start a job (one transaction, enqueued on commit) and run it (claimed by a conditional
  update, each task under a row lock); tasks.py: the Celery shells over them;
- push.py: the one sender of live updates to browsers; consumers.py, routing.py: the page's websocket;
- views.py, selectors.py, context_processors.py: the Jobs blade and the notifications bell;
- embedded.py, management/commands/serve.py: the hub's server with its worker (a thread when embedded).
"""
