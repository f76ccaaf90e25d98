"""Access control (IAM) on a subscription or a resource group: Check access, Role assignments (add,
remove), Roles. The same services and gates as the Microsoft.Authorization API."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Q
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from hub.arm.errors import ArmError
from hub.http import done_or_refused, not_found_as_404
from hub.ids import parse_uuid
from projects import access, services
from projects.models import PrincipalType, RoleAssignment, User
from projects.roles import BUILTIN_ROLES


def _scope(request, subscription_id, resource_group_name):
    with not_found_as_404():
        subscription = access.get_subscription(request.user, subscription_id)
        group = (
            access.get_resource_group(request.user, subscription, resource_group_name) if resource_group_name else None
        )
    return subscription, group


def _iam_url(subscription, group) -> str:
    if group is None:
        return reverse("projects:subscription-iam", args=[subscription.pk])
    return reverse("projects:resource-group-iam", args=[subscription.pk, group.name])


class AddRoleAssignmentForm(forms.Form):
    role = forms.ChoiceField(label="Role", choices=[(name, name) for name in BUILTIN_ROLES])
    # Azure's "Assign access to: User, group, or service principal": users and the service principals
    # of the directory's app registrations, in one list grouped by type.
    principal = forms.ChoiceField(label="Select")

    def __init__(self, members, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.members = {str(member.pk): member for member in members}
        users = [
            (pk, f"{m.display_name or m.email} ({m.email})")
            for pk, m in self.members.items()
            if not m.is_service_principal
        ]
        principals = [
            (pk, f"{m.display_name} (service principal)") for pk, m in self.members.items() if m.is_service_principal
        ]
        self.fields["principal"].choices = [
            ("", "Select a user or service principal"),
            ("Users", users),
            *([("Service principals", principals)] if principals else []),
        ]


def principal_label(principal: User) -> str:
    """How messages name a principal: a user by address, a service principal by its application's name."""
    return f"service principal {principal.display_name}" if principal.is_service_principal else principal.email


def effective_assignments(principal: User, subscription, group) -> list[tuple[RoleAssignment, bool]]:
    """(assignment, inherited) for every role the principal holds at this scope."""
    rows = []
    for assignment in RoleAssignment.objects.filter(principal=principal, subscription=subscription).select_related(
        "resource_group"
    ):
        if assignment.resource_group_id is None:
            rows.append((assignment, group is not None))
        elif group is not None and assignment.resource_group_id == group.pk:
            rows.append((assignment, False))
    return rows


@login_required
def iam(request, subscription_id, resource_group_name=None):
    subscription, group = _scope(request, subscription_id, resource_group_name)
    group_name = group.name if group else None
    members = User.objects.filter(tenant=subscription.tenant, is_active=True).order_by("email")
    form = AddRoleAssignmentForm(members, request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.role_assignment_create(
                user=request.user,
                subscription=subscription,
                resource_group=group,
                principal=form.members[form.cleaned_data["principal"]],
                role_name=form.cleaned_data["role"],
            )
        except ArmError as error:
            form.add_error(None, error.portal_message)
        else:
            principal = form.members[form.cleaned_data["principal"]]
            messages.success(request, f"Added {form.cleaned_data['role']} for {principal_label(principal)}.")
            return redirect(_iam_url(subscription, group) + "?tab=assignments")

    assignments = RoleAssignment.objects.filter(subscription=subscription).select_related("principal", "resource_group")
    if group is not None:
        assignments = assignments.filter(resource_group__isnull=True) | assignments.filter(resource_group=group)
    else:
        assignments = assignments.filter(resource_group__isnull=True)
    checked = None
    if request.GET.get("principal"):
        wanted = request.GET["principal"].strip()
        # A user by address; a service principal by its application's name (it has no address of its own).
        by_name = Q(principal_type=PrincipalType.SERVICE_PRINCIPAL, display_name__iexact=wanted)
        principal = members.filter(Q(email__iexact=wanted) | by_name).first()
        checked = {"query": request.GET["principal"], "principal": principal}
        if principal is not None:
            checked["rows"] = effective_assignments(principal, subscription, group)

    remove_denied = access.denial(request.user, access.DELETE_ROLE_ASSIGNMENT, subscription, group_name)
    denied = access.denial(request.user, access.WRITE_ROLE_ASSIGNMENT, subscription, group_name)
    may_add = not denied
    tab = request.GET.get("tab") or ("assignments" if request.method == "POST" else "check")
    return render(
        request,
        "projects/iam.html",
        {
            "subscription": subscription,
            "group": group,
            "scope_label": f"resource group {group.name}" if group else f"subscription {subscription.display_name}",
            "tab": tab,
            "form": form,
            "members": members,
            "assignments": assignments.order_by("role_name", "principal__email"),
            "checked": checked,
            "may_add": may_add,
            "remove_denied": remove_denied,
            "denied": denied,
            "roles": BUILTIN_ROLES.values(),
            "iam_url": _iam_url(subscription, group),
        },
    )


@login_required
@require_POST
def remove_assignment(request, subscription_id, assignment_id, resource_group_name=None):
    subscription, group = _scope(request, subscription_id, resource_group_name)
    assignment = RoleAssignment.objects.filter(
        pk=parse_uuid(assignment_id), subscription=subscription, resource_group=group
    ).first()
    if assignment is None:
        raise Http404("No such role assignment at this scope")
    done_or_refused(
        request,
        lambda: services.role_assignment_delete(user=request.user, assignment=assignment),
        f"Removed {assignment.role_name} from {principal_label(assignment.principal)}.",
    )
    return redirect(_iam_url(subscription, group) + "?tab=assignments")
