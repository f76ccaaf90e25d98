"""The one module that sends live updates to browsers.

Each push is the same HTML partial the page renders (elements with stable ids); the browser swaps an
element with the same id, or inserts it where `data-live-insert` says. Events carry the scope they
belong to, and the consumer re-checks it against what its user may see before sending.

This module is the transport and the jobs app's own partials (the Jobs list, the bell). Domain apps
render their partials in their own push module (`replication/push.py`, say) and send them through
`send`: the jobs app never names a domain app's screens.
"""

from __future__ import annotations

import logging

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.template.loader import render_to_string

logger = logging.getLogger(__name__)


def user_group(user_id) -> str:
    return f"user.{user_id}"


def subscription_group(subscription_id) -> str:
    return f"subscription.{subscription_id}"


def send(group: str, html: str, *, subscription_id=None, resource_group_name: str = "") -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    event = {
        "type": "hub.push",
        "html": html,
        "subscription_id": str(subscription_id) if subscription_id else "",
        "resource_group_name": resource_group_name,
    }
    try:
        async_to_sync(layer.group_send)(group, event)
    except Exception as error:
        # A live update is a convenience: the page shows the same state on its next load. The error's
        # type only: during a Redis outage every push fails, and a traceback each would bury the log.
        logger.warning("Could not push a live update to %s (%s)", group, error.__class__.__name__)


def notification_changed(notification) -> None:
    from jobs.models import Notification

    unread = Notification.objects.filter(user_id=notification.user_id, read=False).count()
    html = render_to_string("jobs/_notification.html", {"notification": notification, "toast": True})
    html += render_to_string("jobs/_bell_count.html", {"unread_count": unread})
    send(user_group(notification.user_id), html)


def job_changed(job) -> None:
    html = render_to_string("jobs/_job_row.html", {"job": job})
    send(
        subscription_group(job.subscription_id),
        html,
        subscription_id=job.subscription_id,
        resource_group_name=job.resource_group_name,
    )
