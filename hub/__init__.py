"""The platform every app stands on; it imports no app above it (docs/architecture.md, Layers).

- settings.py, urls.py, asgi.py, celery.py: the composition root (settings from the environment, the
  site's URL map and ASGI application, the Celery app);
- clock.py: the one clock, movable forward by the emulator controls (emulator.py);
- models.py: personal API tokens (stored hashed), the emulator clock's offset, the token signing key;
- access_tokens.py: the RS256 access tokens (JWTs) of the Entra ID endpoints, signed and verified;
- cloud_metadata.py: /metadata/endpoints, the hub described as an Azure cloud;
- scopes.py: which subscriptions and resource groups a user may see (the reader comes from projects);
- arm/: the ARM plumbing (routing over ARM ids, api-version, envelopes, errors, bearer tokens);
- views.py: the portal shell (sign-in, All services, API tokens); http.py: a page's answer to what the ARM
  layer refuses (404, or the error message beside the success one); secrets.py, ids.py: helpers;
- channel_layers.py: the embedded default's in-memory channel layer; broker.py: kombu's Redis
  transport, mended so a worker survives a Redis restart;
- health.py: /healthz and /readyz, with a registry of readiness checks apps add to;
- tls.py: the local certificate authority and the https certificate; request_checks.py: requests
  refused before any view; error_pages.py: Django's own refusals in the hub's shapes;
  context_processors.py: the emulated time every page shows;
- snapshots.py (with snapshot_database.py, snapshot_storage.py, snapshot_api.py): save, restore and
  reset the whole hub, and the hub epoch that tells appliances and agents it was restored;
- management/commands/: clock (move the emulator clock), create_api_token, snapshot.
"""

from hub.celery import app as celery_app

__all__ = ["celery_app"]
