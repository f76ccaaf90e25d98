"""Azure Active Directory blade: Overview (with what the signed-in user may do), Users, Roles and
administrators, User settings. Only a Global administrator changes anything here."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST

from hub.arm.errors import ArmError
from hub.http import done_or_refused
from projects import access, services
from projects.models import DirectoryRole, DirectoryRoleAssignment, User

NOT_ADMIN = "Only a Global administrator can change this. Ask a Global administrator of your directory."


def _tenant_or_404(request):
    if request.user.tenant is None:
        raise Http404("You are not a member of a directory.")
    return request.user.tenant


def _context(request, blade: str, **extra) -> dict:
    return {
        "tenant": _tenant_or_404(request),
        "blade": blade,
        "is_global_admin": access.is_global_administrator(request.user),
        "not_admin_reason": NOT_ADMIN,
        **extra,
    }


@login_required
@require_GET
def overview(request):
    user = request.user
    reason = access.app_registration_denial(user)
    can_register = not reason
    roles = [assignment.role for assignment in user.directory_roles.all()]
    return render(
        request,
        "projects/directory/overview.html",
        _context(request, "overview", can_register=can_register, register_reason=reason, my_roles=roles),
    )


class NewUserForm(forms.Form):
    display_name = forms.CharField(label="Name", max_length=120)
    email = forms.EmailField(label="User name")
    password = forms.CharField(label="Password", widget=forms.PasswordInput, min_length=8)

    def clean_password(self):
        password = self.cleaned_data["password"]
        try:
            validate_password(password)
        except ValidationError as error:
            raise forms.ValidationError(error.messages) from error
        return password


@login_required
def users(request):
    form = NewUserForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            created = services.directory_user_create(
                admin=request.user,
                email=form.cleaned_data["email"],
                display_name=form.cleaned_data["display_name"],
                password=form.cleaned_data["password"],
            )
        except ArmError as error:
            form.add_error(None, error.portal_message)
        else:
            messages.success(request, f"Created user {created.email}.")
            return redirect("projects:aad-users")
    members = (
        User.objects.people()
        .filter(tenant=_tenant_or_404(request))
        .prefetch_related("directory_roles")
        .order_by("email")
    )
    return render(request, "projects/directory/users.html", _context(request, "users", members=members, form=form))


class UserSettingsForm(forms.Form):
    app_registrations = forms.TypedChoiceField(
        label="Users can register applications",
        choices=[("yes", "Yes"), ("no", "No")],
        coerce=lambda value: value == "yes",
        widget=forms.RadioSelect,
    )


@login_required
def user_settings(request):
    tenant = _tenant_or_404(request)
    initial = {"app_registrations": "yes" if tenant.app_registrations_allowed else "no"}
    form = UserSettingsForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            services.app_registrations_set(admin=request.user, allowed=form.cleaned_data["app_registrations"])
        except ArmError as error:
            form.add_error(None, error.portal_message)
        else:
            messages.success(request, "Successfully saved user settings.")
            return redirect("projects:aad-user-settings")
    return render(request, "projects/directory/user_settings.html", _context(request, "user-settings", form=form))


ROLE_DESCRIPTIONS = {
    DirectoryRole.GLOBAL_ADMINISTRATOR: "Can manage all aspects of Azure AD and Microsoft services that use Azure AD "
    "identities.",
    DirectoryRole.APPLICATION_DEVELOPER: "Can create application registrations independent of the 'Users can "
    "register applications' setting.",
}


@login_required
@require_GET
def roles(request):
    tenant = _tenant_or_404(request)
    rows = [
        (role, ROLE_DESCRIPTIONS[role], DirectoryRoleAssignment.objects.filter(role=role, user__tenant=tenant).count())
        for role in DirectoryRole
    ]
    return render(request, "projects/directory/roles.html", _context(request, "roles", rows=rows))


def _role_or_404(slug: str) -> DirectoryRole:
    role = next((r for r in DirectoryRole if r.value.lower().replace(" ", "-") == slug), None)
    if role is None:
        raise Http404("No such directory role")
    return role


@login_required
def role_detail(request, role_slug: str):
    tenant = _tenant_or_404(request)
    role = _role_or_404(role_slug)
    if request.method == "POST":
        user_id = request.POST.get("user", "")
        # isdecimal() alone lets through thousands of digits, which int() refuses (a 500).
        known = user_id.isdecimal() and len(user_id) < 20
        member = User.objects.people().filter(tenant=tenant, pk=int(user_id)).first() if known else None
        if member is None:
            messages.error(request, "Select a user of this directory.")
        elif done_or_refused(
            request,
            lambda: services.directory_role_assign(admin=request.user, user=member, role=role),
            f"{member.email} now holds {role.value}.",
        ):
            return redirect("projects:aad-role", role_slug=role_slug)
    assignments = DirectoryRoleAssignment.objects.filter(role=role, user__tenant=tenant).select_related("user")
    candidates = User.objects.people().filter(tenant=tenant).exclude(directory_roles__role=role).order_by("email")
    return render(
        request,
        "projects/directory/role_detail.html",
        _context(request, "roles", role=role, assignments=assignments, candidates=candidates, role_slug=role_slug),
    )


@login_required
@require_POST
def role_remove(request, role_slug: str, assignment_id: int):
    tenant = _tenant_or_404(request)
    assignment = get_object_or_404(DirectoryRoleAssignment, pk=assignment_id, user__tenant=tenant)
    done_or_refused(
        request,
        lambda: services.directory_role_remove(admin=request.user, assignment=assignment),
        f"Removed {assignment.role} from {assignment.user.email}.",
    )
    return redirect("projects:aad-role", role_slug=role_slug)
