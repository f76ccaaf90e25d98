"""App registrations: create and delete applications with their service principals, add and remove
client secrets, and check a client's credentials at sign-in. Who may do what follows the directory:
the App registrations user setting and the directory roles (projects.access)."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta

from django.db import transaction

from entra.models import MAX_SECRETS_PER_APPLICATION, SECRET_LIFETIME_DAYS, Application, ClientSecret
from hub import clock
from hub.arm.errors import ArmError
from projects import access
from projects import services as projects_services
from projects.models import PrincipalType, User
from projects.roles import BUILTIN_ROLES

MAX_APPLICATIONS_PER_TENANT = 500
# Graph's addPassword takes any end date; `az ad sp create-for-rbac --years N` asks for N years.
MAX_SECRET_DAYS = 10 * 365


class SignInFailed(Exception):
    """A sign-in refused, in Entra's terms: the OAuth error, the AADSTS code and what to do."""

    def __init__(self, error: str, aadsts: int, description: str):
        super().__init__(description)
        self.error = error
        self.aadsts = aadsts
        self.description = description


def _valid_display_name(display_name) -> str:
    display_name = (display_name if isinstance(display_name, str) else "").strip()
    if not display_name or len(display_name) > 120:
        raise ArmError(400, "InvalidDisplayName", "An application needs a display name of 1 to 120 characters.")
    return display_name


def create_application(actor: User, display_name: str) -> Application:
    """Register an application in the actor's directory, with its service principal."""
    display_name = _valid_display_name(display_name)
    access.authorize_app_registration(actor)
    tenant = actor.tenant
    with transaction.atomic():
        if Application.objects.filter(tenant=tenant).count() >= MAX_APPLICATIONS_PER_TENANT:
            raise ArmError(
                400,
                "Directory_QuotaExceeded",
                f"The directory holds at most {MAX_APPLICATIONS_PER_TENANT} applications. Delete one you no "
                "longer use.",
            )
        app_id = uuid.uuid4()
        principal = User(
            email=f"{app_id}@serviceprincipals.{tenant.domain}",
            display_name=display_name,
            tenant=tenant,
            principal_type=PrincipalType.SERVICE_PRINCIPAL,
        )
        principal.set_unusable_password()  # never signs in to the portal
        principal.save()
        return Application.objects.create(
            app_id=app_id, tenant=tenant, display_name=display_name, service_principal=principal, created_by=actor
        )


def authorize_application_change(actor: User, application: Application) -> None:
    """The application's creator or a Global administrator of its directory may change it."""
    if actor.tenant_id != application.tenant_id:
        raise ArmError(404, "Request_ResourceNotFound", f"Resource '{application.id}' does not exist.")
    if application.created_by_id == actor.pk or access.is_global_administrator(actor):
        return
    raise ArmError(
        403,
        "Authorization_RequestDenied",
        "Insufficient privileges to complete the operation: only the application's owner or a Global "
        "administrator can change it.",
    )


def delete_application(actor: User, application: Application) -> None:
    """Delete the application and its service principal; the principal's role assignments go with it."""
    authorize_application_change(actor, application)
    with transaction.atomic():
        # Deleting the principal cascades to the application, its secrets and its role assignments.
        User.objects.filter(pk=application.service_principal_id).delete()


def add_client_secret(
    actor: User, application: Application, *, display_name: str = "", days: int = 180, expires_at=None
):
    """A new client secret: (row, value). The value is shown once and never stored. The portal offers
    `days` from SECRET_LIFETIME_DAYS; Graph's addPassword names an end date instead (`expires_at`)."""
    authorize_application_change(actor, application)
    if expires_at is not None:
        now = clock.now()
        if not now < expires_at <= now + timedelta(days=MAX_SECRET_DAYS):
            raise ArmError(
                400,
                "InvalidSecretLifetime",
                f"A client secret's endDateTime must be in the future and at most {MAX_SECRET_DAYS // 365} years away.",
            )
    elif days not in SECRET_LIFETIME_DAYS:
        choices = ", ".join(str(d) for d in SECRET_LIFETIME_DAYS)
        raise ArmError(400, "InvalidSecretLifetime", f"A client secret expires after {choices} days; got {days!r}.")
    if len(display_name) > 120:
        raise ArmError(400, "InvalidDisplayName", "A secret's description is at most 120 characters.")
    with transaction.atomic():
        Application.objects.select_for_update().get(pk=application.pk)
        if application.client_secrets.count() >= MAX_SECRETS_PER_APPLICATION:
            raise ArmError(
                400,
                "TooManyPasswordCredentials",
                f"An application holds at most {MAX_SECRETS_PER_APPLICATION} client secrets. Delete one first.",
            )
        return ClientSecret.issue(application, display_name=display_name, days=days, expires_at=expires_at)


def rename_application(actor: User, application: Application, display_name: str) -> None:
    """A new display name for the application and its service principal (Graph PATCH)."""
    authorize_application_change(actor, application)
    display_name = _valid_display_name(display_name)
    with transaction.atomic():
        Application.objects.filter(pk=application.pk).update(display_name=display_name)
        User.objects.filter(pk=application.service_principal_id).update(display_name=display_name)
    application.display_name = display_name


def remove_client_secret(actor: User, application: Application, key_id) -> None:
    authorize_application_change(actor, application)
    deleted, _ = application.client_secrets.filter(key_id=key_id).delete()
    if not deleted:
        raise ArmError(404, "Request_ResourceNotFound", f"No client secret with key id '{key_id}'.")


def authenticate_client(tenant_id, client_id: str, secret: str) -> User:
    """The service principal signing in with this application (client) id and secret, or SignInFailed
    with Entra's error for what is wrong."""
    try:
        app_id = uuid.UUID(str(client_id))
    except ValueError:
        app_id = None
    application = (
        Application.objects.select_related("service_principal").filter(app_id=app_id, tenant_id=tenant_id).first()
        if app_id
        else None
    )
    if application is None:
        raise SignInFailed(
            "unauthorized_client",
            700016,
            f"Application with identifier '{client_id}' was not found in the directory '{tenant_id}'. Check the "
            "application (client) id, or register the application in this directory.",
        )
    now = clock.now()
    matching = [row for row in application.client_secrets.all() if row.matches(secret or "")]
    if not matching:
        raise SignInFailed(
            "invalid_client",
            7000215,
            "Invalid client secret provided. Ensure the secret being sent in the request is the client secret "
            f"value, not the client secret ID, for a secret added to app '{application.app_id}'.",
        )
    if all(row.is_expired(now) for row in matching):
        raise SignInFailed(
            "invalid_client",
            7000222,
            f"The provided client secret keys for app '{application.app_id}' are expired. Create a new client "
            "secret for the application in the portal (App registrations > Certificates & secrets).",
        )
    return application.service_principal


def _role_named(name: str):
    role = next((r for r in BUILTIN_ROLES.values() if name.lower() in (r.name.lower(), r.id)), None)
    if role is None:
        known = ", ".join(BUILTIN_ROLES)
        raise ArmError(400, "RoleDefinitionDoesNotExist", f"Role '{name}' doesn't exist. Built-in roles: {known}.")
    return role


_SCOPE = re.compile(r"^/subscriptions/(?P<sub>[^/]+)(?:/resourceGroups/(?P<rg>[^/]+))?/?$", re.IGNORECASE)


def _scope_of(actor: User, scope: str):
    """(subscription, resource group or None) of `/subscriptions/ID[/resourceGroups/RG]`, as the actor
    sees them (404 for what they may not see)."""
    match = _SCOPE.match(scope.strip())
    if match is None:
        raise ArmError(
            400,
            "InvalidScope",
            f"Scope '{scope}' is not valid: use /subscriptions/ID or /subscriptions/ID/resourceGroups/NAME.",
        )
    subscription = access.get_subscription(actor, match["sub"])
    group = access.get_resource_group(actor, subscription, match["rg"]) if match["rg"] else None
    return subscription, group


def create_service_principal_for_rbac(actor: User, display_name: str, *, role_name: str, scopes: list[str]):
    """`az ad sp create-for-rbac --name N --role R --scopes S...`: an application with its service
    principal, a secret valid one year, and the role at each scope. All or nothing: a refused scope
    leaves no application behind. Returns (application, secret value)."""
    role = _role_named(role_name)
    with transaction.atomic():
        targets = [_scope_of(actor, scope) for scope in scopes]
        application = create_application(actor, display_name)
        _, secret = add_client_secret(actor, application, display_name="rbac", days=365)
        for subscription, group in targets:
            projects_services.role_assignment_create(
                user=actor,
                subscription=subscription,
                resource_group=group,
                principal=application.service_principal,
                role_name=role.name,
            )
    return application, secret
