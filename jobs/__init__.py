"""The generic job engine and the live-update transport; it names no domain app.

- models.py: Job (ASR-shaped: scenario, state, ordered tasks, errors, target) and Notification;
- scenarios.py: the registry domain apps fill with their scenarios (ordered, idempotent steps);
- services.py: start a job (job and run message in one transaction) and run it (claimed for this
  worker by a conditional update, each task under a row lock); tasks.py: the Celery shell over it;
- outbox.py: every Celery task the hub sends, written in the caller's transaction and delivered after
  (again and again while the broker is down); workers.py: this process's worker name and heartbeat;
  supervision.py: resuming runs lost to a dead worker or a broker that lost its messages;
  periodic.py: the loop running the dispatcher, heartbeat and supervision in every worker process;
- probe.py, management/commands/probe_jobs.py: a job whose effects can be counted (fault tests, bench);
- push.py: the one sender of live updates to browsers; consumers.py, routing.py: the page's websocket;
- views.py, urls.py, selectors.py, context_processors.py: the Jobs blade and the notifications bell;
- embedded.py, worker_process.py, management/commands/serve.py: the hub's server with its worker (a
  thread when embedded, else a child process restarted when it dies); webserver.py: uvicorn serving
  http and https in each web process; worker_health: a container's healthcheck.
"""
