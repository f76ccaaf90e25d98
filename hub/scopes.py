"""Which ARM scopes a signed-in user may see: the one access question the platform layers ask.

The jobs list, the bell and the websocket show only what lies in a subscription or resource group the
user may see. The answer comes from Azure RBAC (role assignments), which the `projects` app owns; it
provides the reader at start-up (`ProjectsConfig.ready`), so the platform asks without importing the
domain. Objects outside a user's scopes do not exist for them.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable

from django.db.models import Q

# (subscription id, None) for a subscription-wide role; (subscription id, lower-case group name) else.
Scope = tuple[str, str | None]
ScopeReader = Callable[[object], set[Scope]]

_reader: ScopeReader | None = None


def provide_reader(reader: ScopeReader) -> None:
    """Called once by the app that owns role assignments."""
    global _reader
    _reader = reader


def visible_scopes(user) -> set[Scope]:
    """Remembered on the user object, which lives for one request (or one job run), because one
    request asks several times; a role change takes effect on the next request."""
    cached = getattr(user, "_visible_scopes", None)
    if cached is not None:
        return cached
    if _reader is None:
        raise RuntimeError("No scope reader: the projects app provides it in its AppConfig.ready.")
    scopes = _reader(user)
    user._visible_scopes = scopes
    return scopes


def forget_visible_scopes(user) -> None:
    """After changing a user's roles within the same request or job. (`del` rather than the instance
    __dict__, so it also reaches a user behind request.user's lazy wrapper.)"""
    with contextlib.suppress(AttributeError):
        del user._visible_scopes


def visibility_q(user, *, subscription_field: str, rg_field: str) -> Q:
    """A filter for rows that belong to a subscription and a resource group (by name)."""
    condition = Q(pk__in=[])
    for sub_id, rg_name in visible_scopes(user):
        if rg_name is None:
            condition |= Q(**{subscription_field: sub_id})
        else:
            condition |= Q(**{subscription_field: sub_id, f"{rg_field}__iexact": rg_name})
    return condition


def may_see(scopes: set[Scope], subscription_id: str, resource_group_name: str) -> bool:
    return (subscription_id, None) in scopes or (subscription_id, resource_group_name.lower()) in scopes
