"""Settings, all read from the environment.

With no variables set the hub runs embedded: SQLite under DATA_DIR, a Celery worker thread inside the
web process with an in-memory broker, and a thread-safe in-memory channel layer. Setting DATABASE_URL
and REDIS_URL switches to the production topology (PostgreSQL, Redis, separate worker processes).
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    if raw.lower() in ("1", "true", "yes", "on"):
        return True
    if raw.lower() in ("0", "false", "no", "off"):
        return False
    raise ImproperlyConfigured(f"{name} must be true or false, not {raw!r}")


def _env_number(name: str, default, convert, what: str):
    raw = os.environ.get(name)
    if not raw:
        return default
    try:
        return convert(raw)
    except ValueError as error:
        raise ImproperlyConfigured(f"{name} must be {what}, not {raw!r}") from error


def env_float(name: str, default: float) -> float:
    return _env_number(name, default, float, "a number")


def env_int(name: str, default: int) -> int:
    return _env_number(name, default, int, "a whole number")


def data_dir_secret_key(data_dir: Path) -> str:
    """The key kept in DATA_DIR/secret_key, made at first start: a hub without SECRET_KEY still signs
    sessions with a key nobody else knows. Every process sharing DATA_DIR (web, workers) reads the same
    one; two starting at once agree, as the file appears whole (link of a finished file) or not at all."""
    path = data_dir / "secret_key"
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        draft = data_dir / f".secret_key.{secrets.token_hex(8)}"  # processes in containers share pids
        draft.write_text(secrets.token_urlsafe(50))
        draft.chmod(0o600)
        try:
            os.link(draft, path)
        except FileExistsError:
            pass
        finally:
            draft.unlink()
    return path.read_text().strip()


DATA_DIR = Path(env_str("DATA_DIR", str(BASE_DIR / "var")))
# Off unless asked for: a debug page lists settings (database and broker URLs) to whoever triggers it.
DEBUG = env_bool("DEBUG", False)
SECRET_KEY = env_str("SECRET_KEY") or data_dir_secret_key(DATA_DIR)
# More names the hub is reached by: certified by its local authority (hub/tls.py) and allowed as hosts.
HUB_HOSTNAMES = [h.strip() for h in env_str("HUB_HOSTNAMES").split(",") if h.strip()]
ALLOWED_HOSTS = [h for h in env_str("ALLOWED_HOSTS", "127.0.0.1,localhost,[::1],testserver").split(",") if h]
ALLOWED_HOSTS += [f"[{h.strip('[]')}]" if ":" in h else h for h in HUB_HOSTNAMES]
CSRF_TRUSTED_ORIGINS = [o for o in env_str("CSRF_TRUSTED_ORIGINS", "").split(",") if o]
# A container's healthcheck asks over plain HTTP inside the container: never redirected to HTTPS.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]

# HTTPS, for a deployment behind TLS (README "Deploying over HTTPS"; `check --deploy` then reports
# nothing). The embedded demo serves plain http beside https on 127.0.0.1, and plain http must keep
# working there (README "Settings"), so each is off unless set.
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", False)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", False)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", False)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", False)
# Behind a TLS-terminating proxy: the header it sets on requests that came in over https
# (X-Forwarded-Proto), so the hub knows them secure and does not redirect them in a loop.
if env_str("SECURE_PROXY_SSL_HEADER"):
    SECURE_PROXY_SSL_HEADER = ("HTTP_" + env_str("SECURE_PROXY_SSL_HEADER").upper().replace("-", "_"), "https")

# HTTPS beside plain http (`manage.py serve`; 0 serves no HTTPS). The certificate and key by path
# (TLS_CERT_FILE, TLS_KEY_FILE: PEM, the chain and its unencrypted key) or, without them, from the local
# certificate authority the hub makes in TLS_DIR (hub/tls.py).
HTTPS_PORT = env_int("HTTPS_PORT", 8443)
TLS_CERT_FILE = env_str("TLS_CERT_FILE")
TLS_KEY_FILE = env_str("TLS_KEY_FILE")
TLS_DIR = DATA_DIR / "tls"

DATABASE_URL = env_str("DATABASE_URL")
REDIS_URL = env_str("REDIS_URL")
EMBEDDED = not REDIS_URL

INSTALLED_APPS = [
    "daphne",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_htmx",
    "template_partials",
    "rest_framework",
    "drf_spectacular",
    "channels",
    "hub",
    "projects",
    "jobs",
    "replication",
    "entra",
    "events",
    "faults",
]

MIDDLEWARE = [
    "hub.request_checks.NulCharacterMiddleware",
    "hub.snapshots.RestoreInProgressMiddleware",
    "hub.arm.middleware.ArmPathMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "hub.urls"
CSRF_FAILURE_VIEW = "hub.error_pages.csrf_failure"
ASGI_APPLICATION = "hub.asgi.application"
# Request bodies read into memory instead of a temporary file past FILE_UPLOAD_MAX_MEMORY_SIZE (hub/asgi.py):
# path prefix -> bytes kept, beyond which the rest is dropped. More than any view there takes, so its
# own limit still refuses a longer body: the appliance API's largest is a replication batch, 24 MiB
# (replication/uploads.py MAX_UPLOAD_BYTES), and its view reads one byte past that to tell.
IN_MEMORY_BODIES = {"/appliance-api/": 24 * 1024 * 1024 + 1}
AUTH_USER_MODEL = "projects.User"
LOGIN_URL = "hub:signin"
LOGIN_REDIRECT_URL = "hub:home"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "jobs.context_processors.notifications",
                "hub.context_processors.emulated_time",
            ],
        },
    }
]

if DATABASE_URL:
    # A connection pool, not persistent connections: Django's ASGI handler runs each request on a new
    # thread and persistent connections belong to a thread, so they would never be reused. The pool is
    # per process: each web process (serve --web-processes) and the worker have their own.
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=0)}
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": int(env_float("DATABASE_POOL_MIN", 2)),
        "max_size": int(env_float("DATABASE_POOL_MAX", 16)),
        "timeout": 10,
    }
else:
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": DATA_DIR / "hub.sqlite3",
            # The web process and the embedded worker thread write concurrently: WAL plus IMMEDIATE
            # transactions make SQLite serialise writers instead of failing with "database is locked".
            "OPTIONS": {
                "timeout": 20,
                "transaction_mode": "IMMEDIATE",
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            },
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 8}},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = DATA_DIR / "static"

if EMBEDDED:
    CHANNEL_LAYERS = {"default": {"BACKEND": "hub.channel_layers.ThreadSafeInMemoryChannelLayer"}}
else:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            # No socket timeout: channels_redis blocks on a read for 5 s, and redis-py 8 would otherwise
            # time the idle socket out at the same 5 s, dropping pushes while the consumer reconnects.
            "CONFIG": {
                "hosts": [{"address": REDIS_URL, "socket_timeout": None}],
                "prefix": env_str("CHANNEL_PREFIX", "migratehub"),
            },
        }
    }

# Celery: jobs are idempotent (each task step is claimed under a row lock and skipped once it
# succeeded), so a job may be redelivered after a worker dies: acks_late is safe.
CELERY_BROKER_URL = REDIS_URL or "memory://localhost/"
if REDIS_URL:
    # kombu's Redis transport, mended so a worker survives a Redis restart (see hub/broker.py).
    CELERY_BROKER_TRANSPORT = "hub.broker:Transport"
# With Redis, a task taken by a worker that died (SIGKILL, power loss) is handed out again once its
# visibility timeout passes; jobs and replica applies are idempotent, so an early second delivery of
# a task still running is harmless, and a short timeout means a crash costs minutes, not an hour.
TASK_VISIBILITY_TIMEOUT_SECONDS = env_float("CELERY_VISIBILITY_TIMEOUT", 300)
CELERY_BROKER_TRANSPORT_OPTIONS = (
    {
        "visibility_timeout": TASK_VISIBILITY_TIMEOUT_SECONDS,
        # A running worker looks for such tasks every interval × throttle seconds: kombu's defaults
        # (10 s × 10) would keep a dead worker's task waiting up to 100 s past its timeout (a worker
        # started again looks once at start, before a fresh task's timeout has passed). Look every
        # quarter of the timeout, at most every 10 s; it is one Redis query.
        "unacked_restore_interval": max(1, int(min(10, TASK_VISIBILITY_TIMEOUT_SECONDS / 4))),
        "unacked_restore_throttle": 1,
        # A publish to a broker that is down fails at once instead of retrying for ~6 s: the outbox
        # (jobs/outbox.py) is the retry, and the request that sends must not wait. (The worker's
        # consumer reconnects by its own policy, broker_connection_max_retries.)
        "max_retries": 0,
    }
    if REDIS_URL
    else {"polling_interval": 0.05}
)
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Threads, unless a worker is started with another --pool: a worker's main process uses the database
# (its heartbeat and the outbox dispatcher, jobs/periodic.py), and prefork children would inherit its
# pooled connections. (jobs/periodic.py also detaches them in a forked child, should one be used.)
CELERY_WORKER_POOL = "threads"
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# A worker outlives any broker outage: it reconnects forever instead of giving up after 100 tries.
CELERY_BROKER_CONNECTION_MAX_RETRIES = None
# Periodic work (the outbox dispatcher, heartbeats, resuming lost jobs) runs inside every worker
# process (jobs.periodic), so no beat is needed. An unclaimed job whose run message was queued this
# many seconds ago and never arrived (a broker restarted empty) is queued again.
JOBS_REQUEUE_UNCLAIMED_SECONDS = env_float("JOBS_REQUEUE_UNCLAIMED_SECONDS", 60)

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["hub.arm.auth.BearerTokenAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["hub.arm.parsers.BoundedJSONParser"],
    "EXCEPTION_HANDLER": "hub.arm.errors.arm_exception_handler",
    "DEFAULT_SCHEMA_CLASS": "hub.arm.schema.ArmAutoSchema",
    "UNAUTHENTICATED_USER": None,
}
# The OpenAPI document of the ARM API and the Graph sliver (hub/arm/schema.py; docs/api.md).
# `manage.py spectacular --validate --fail-on-warn` runs in `make lint`.
SPECTACULAR_SETTINGS = {
    "TITLE": "Migrate Hub ARM API",
    "DESCRIPTION": (
        "Azure Resource Manager compatible API of the Migrate Hub emulator, and the part of Microsoft Graph "
        "it serves. Every ARM operation requires the api-version query parameter; Graph operations take none. "
        'Errors are ARM envelopes: {"error": {"code", "message", "target"?, "details"?}}.'
    ),
    "VERSION": "0.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Site Recovery writes booleans as strings ("true"/"false") in several properties: one enum.
    # A PATCH body's required properties stay required (the hub refuses a PATCH without them).
    "COMPONENT_SPLIT_PATCH": False,
    "ENUM_NAME_OVERRIDES": {"StringBooleanEnum": ["true", "false"]},
    "PREPROCESSING_HOOKS": ["hub.arm.schema.arm_and_graph_only"],
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "hub.arm.schema.distinct_operation_ids",
    ],
    # Every documented operation takes the same tokens, whichever authentication class reads them: the
    # schemes are declared once here rather than per authentication class.
    "AUTHENTICATION_WHITELIST": [],
    "SECURITY": [{"azure_auth": ["user_impersonation"]}, {"bearer": []}],
    "APPEND_COMPONENTS": {
        "securitySchemes": {
            # As Azure's own specifications declare it; the hub is its own Entra ID (login endpoint at its root).
            "azure_auth": {
                "type": "oauth2",
                # A user may sign in at 'organizations'; a service principal's client credentials need its
                # directory in the URL (Entra answers AADSTS50059 otherwise), which a static document cannot
                # name, so that flow is described in words rather than with a tokenUrl that would refuse it.
                "description": "Microsoft Entra ID OAuth2: a token from the hub's own login endpoint. Users: "
                "the password flow below, or the device code flow at /{tenant}/oauth2/v2.0/devicecode. Service "
                "principals: client_credentials at /{tenant}/oauth2/v2.0/token, {tenant} being their directory's "
                "id or domain.",
                "flows": {
                    "password": {
                        "tokenUrl": "/organizations/oauth2/v2.0/token",
                        "scopes": {"user_impersonation": "impersonate your user account"},
                    },
                },
            },
            "bearer": {
                "type": "http",
                "scheme": "bearer",
                "description": "A personal API token (portal: user menu > API tokens), or an Entra ID access token.",
            },
        }
    },
    # `check --deploy` is about running safely; the document's own lint is `make lint`'s.
    "ENABLE_DJANGO_DEPLOY_CHECK": False,
}

# Seconds clients wait between polls of a long-running operation (ARM Retry-After).
ARM_RETRY_AFTER_SECONDS = int(env_float("ARM_RETRY_AFTER_SECONDS", 1))
DEMO_PASSWORD = env_str("DEMO_PASSWORD", "migrate-demo")
# Seconds between an agent's first report and its server counting as discovered (Azure: up to 15 min).
DISCOVERY_DELAY_SECONDS = env_float("DISCOVERY_DELAY_SECONDS", 5)

# Replication data: the cache storage accounts' blobs and the replica disks (shared by web and worker).
REPLICATION_DIR = Path(env_str("REPLICATION_DIR", str(DATA_DIR / "replication")))
# Where batches, replica chunks and recovery-point manifests are stored (hub/object_store.py):
# "local" files under REPLICATION_DIR/storage, "azure" Blob Storage or "s3".
OBJECT_STORE = env_str("OBJECT_STORE", "local")
# For "azure": the storage account's connection string (Azurite's in the tests and docker-compose).
# Each project's cache storage account is one blob container in it.
AZURE_STORAGE_CONNECTION_STRING = env_str("AZURE_STORAGE_CONNECTION_STRING", "")
# The blob endpoint people reach that account at, when the hub reaches it by another name (the storage
# account's primaryEndpoints.blob); unset: the connection string's.
AZURE_STORAGE_PUBLIC_BLOB_ENDPOINT = env_str("AZURE_STORAGE_PUBLIC_BLOB_ENDPOINT", "")
# The emulated cache storage accounts are containers in that one account, so its key opens them all,
# other tenants' too: listKeys gives a SAS for the account's own container unless this is true, for a
# hub whose users may all see each other's caches (projects/arm/storage_accounts.py).
STORAGE_LIST_KEYS_SHARED_KEY = env_bool("STORAGE_LIST_KEYS_SHARED_KEY", False)
# For "s3" (pip install -e '.[s3]'): an S3-compatible store (SeaweedFS, Ceph RGW, Garage); each
# container is a bucket.
S3_ENDPOINT_URL = env_str("S3_ENDPOINT_URL", "")
S3_ACCESS_KEY_ID = env_str("S3_ACCESS_KEY_ID", "")
S3_SECRET_ACCESS_KEY = env_str("S3_SECRET_ACCESS_KEY", "")
S3_REGION = env_str("S3_REGION", "us-east-1")
# Snapshots of the whole hub (hub/snapshots.py): database, object store and replication files.
SNAPSHOT_DIR = Path(env_str("SNAPSHOT_DIR", str(DATA_DIR / "snapshots")))
# Seconds between delta cycles for new replication policies (Azure: a crash-consistent point every 5 min).
REPLICATION_CYCLE_SECONDS = int(env_float("REPLICATION_CYCLE_SECONDS", 300))
# How often each worker looks for recovery points past their policy's history (hub clock).
RECOVERY_POINT_PRUNE_SECONDS = env_float("RECOVERY_POINT_PRUNE_SECONDS", 60)

# Events out (events/delivery.py): webhook delivery threads per worker process, their timeouts, the
# retry backoff (exponential with jitter, from FIRST up to MAX seconds) and how often replication state
# and health are compared for changes. Event Grid's own backoff starts at 10 s and grows to an hour.
EVENTS_DELIVERY_THREADS = env_int("EVENTS_DELIVERY_THREADS", 4)
EVENTS_CONNECT_TIMEOUT = env_float("EVENTS_CONNECT_TIMEOUT", 5)
EVENTS_READ_TIMEOUT = env_float("EVENTS_READ_TIMEOUT", 5)
EVENTS_RETRY_FIRST_SECONDS = env_float("EVENTS_RETRY_FIRST_SECONDS", 10)
EVENTS_RETRY_MAX_SECONDS = env_float("EVENTS_RETRY_MAX_SECONDS", 600)
EVENTS_WATCH_SECONDS = env_float("EVENTS_WATCH_SECONDS", 5)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {
        "django": {"handlers": ["console"], "level": "INFO", "propagate": False},
        # 4xx answers are the API working as designed; only server errors are news.
        "django.request": {"handlers": ["console"], "level": "ERROR", "propagate": False},
        # A body over DATA_UPLOAD_MAX_MEMORY_SIZE is answered 413 (hub/error_pages.py): not news either.
        "django.security.RequestDataTooBig": {"handlers": ["console"], "level": "CRITICAL", "propagate": False},
        "django.channels.server": {"level": "WARNING"},
        "daphne": {"level": "WARNING"},
        "celery": {"level": "WARNING"},
    },
}
