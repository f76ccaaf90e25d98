"""Events out: Event Grid event subscriptions (Microsoft.EventGrid/eventSubscriptions) whose webhooks
receive the hub's job, replication and health events in the Event Grid schema, signed, retried with
backoff and dead-lettered into the hub's delivery log.

- models.py: subscriptions, events, one delivery per (event, subscription), and each attempt;
- publishing.py: turns what jobs.event_sources announces into events and deliveries (rows only);
- watcher.py: reads the registered state sources and publishes what changed;
- delivery.py: the delivery threads of each worker process (claim, POST, back off, dead-letter);
- signing.py: the webhook signature; services.py: creating and deleting subscriptions;
- arm.py: the ARM API; portal.py: the Event subscriptions blade."""
