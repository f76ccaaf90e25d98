"""The Azure side the user sets up: the directory, subscriptions, resource groups, role assignments,
and Azure Migrate projects with their tools (solutions)."""

from __future__ import annotations

import uuid

from django.contrib.auth.models import AbstractUser, BaseUserManager
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone

from projects.roles import BUILTIN_ROLES


class Tenant(models.Model):
    """An Azure AD (Entra ID) directory."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4)
    display_name = models.CharField(max_length=120)
    domain = models.CharField(max_length=200, unique=True)
    # "Users can register applications" (Azure AD > User settings > App registrations).
    app_registrations_allowed = models.BooleanField(default=True)

    def __str__(self) -> str:
        return self.display_name


class PrincipalType(models.TextChoices):
    """What a directory object is, as role assignments name it (principalType)."""

    USER = "User"
    SERVICE_PRINCIPAL = "ServicePrincipal"


class UserQuerySet(models.QuerySet):
    def people(self):
        """Users proper: not the rows standing for applications' service principals."""
        return self.filter(principal_type=PrincipalType.USER)


class UserManager(BaseUserManager.from_queryset(UserQuerySet)):
    use_in_migrations = True

    def create_user(self, email, password=None, **fields):
        if not email:
            raise ValueError("A user needs an email address.")
        user = self.model(email=self.normalize_email(email).lower(), **fields)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_superuser(self, email, password=None, **fields):
        fields.setdefault("is_staff", True)
        fields.setdefault("is_superuser", True)
        return self.create_user(email, password, **fields)


class User(AbstractUser):
    """A directory principal that role assignments name. Mostly a person, who signs in with the email
    address (user principal name); a row of type ServicePrincipal stands for an application registered
    in the directory (entra.Application): it has no password and signs in only with the application's
    client secret, but holds roles exactly as a user does."""

    username = None
    email = models.EmailField(unique=True)
    # The directory object id: what ARM calls principalId.
    object_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    display_name = models.CharField(max_length=120, blank=True)
    tenant = models.ForeignKey(Tenant, null=True, blank=True, on_delete=models.PROTECT, related_name="users")
    principal_type = models.CharField(max_length=20, choices=PrincipalType.choices, default=PrincipalType.USER)

    USERNAME_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []
    objects = UserManager()

    @property
    def is_service_principal(self) -> bool:
        return self.principal_type == PrincipalType.SERVICE_PRINCIPAL

    @property
    def client_name(self) -> str:
        """How ARM's errors name the caller: a user by sign-in name, a service principal by its
        application (client) id, which entra makes the local part of the principal's address."""
        return self.email.split("@", 1)[0] if self.is_service_principal else self.email

    def __str__(self) -> str:
        return self.email


class DirectoryRole(models.TextChoices):
    GLOBAL_ADMINISTRATOR = "Global administrator"
    APPLICATION_DEVELOPER = "Application Developer"


class DirectoryRoleAssignment(models.Model):
    """A directory (Azure AD) role held by a user in their tenant; separate from Azure RBAC."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="directory_roles")
    role = models.CharField(max_length=40, choices=DirectoryRole.choices)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "role"], name="unique_directory_role")]

    def __str__(self) -> str:
        return f"{self.user} is {self.role}"


class Subscription(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4)
    tenant = models.ForeignKey(Tenant, on_delete=models.PROTECT, related_name="subscriptions")
    display_name = models.CharField(max_length=120)
    state = models.CharField(max_length=20, default="Enabled")

    class Meta:
        ordering = ["display_name"]

    def __str__(self) -> str:
        return self.display_name

    @property
    def arm_id(self) -> str:
        return f"/subscriptions/{self.pk}"


class ProvisioningState(models.TextChoices):
    SUCCEEDED = "Succeeded"
    DELETING = "Deleting"


class ResourceGroup(models.Model):
    subscription = models.ForeignKey(Subscription, on_delete=models.CASCADE, related_name="resource_groups")
    name = models.CharField(max_length=90)
    location = models.CharField(max_length=40)
    tags = models.JSONField(default=dict, blank=True)
    managed_by = models.CharField(max_length=400, null=True, blank=True)
    provisioning_state = models.CharField(
        max_length=20, choices=ProvisioningState.choices, default=ProvisioningState.SUCCEEDED
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = [Lower("name")]
        constraints = [
            # ARM names are case-insensitive: "rg-Migrate" and "rg-migrate" are one group.
            models.UniqueConstraint(Lower("name"), "subscription", name="unique_resource_group_name"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def arm_id(self) -> str:
        return f"{self.subscription.arm_id}/resourceGroups/{self.name}"

    @property
    def is_deleting(self) -> bool:
        return self.provisioning_state == ProvisioningState.DELETING


class GroupResource:
    """A resource in a resource group, at `{group}/providers/{arm_type}/{name}`: its ARM id, and its name
    as its text. A plain mixin, not a model: it adds no field, so each model's table is its own."""

    arm_type: str

    def __str__(self) -> str:
        return self.name

    @property
    def arm_id(self) -> str:
        return f"{self.resource_group.arm_id}/providers/{self.arm_type}/{self.name}"


class RoleAssignment(models.Model):
    """A built-in role granted to a user at subscription scope, or at one resource group's scope."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4)
    # The ARM name (a GUID the client may choose). Unique within a tenant only, as in Azure: another
    # tenant may use the same GUID, and nothing about theirs must show through ours.
    name = models.UUIDField(default=uuid.uuid4)
    principal = models.ForeignKey(User, on_delete=models.CASCADE, related_name="role_assignments")
    role_name = models.CharField(max_length=60, choices=[(name, name) for name in BUILTIN_ROLES])
    subscription = models.ForeignKey(Subscription, on_delete=models.CASCADE, related_name="role_assignments")
    resource_group = models.ForeignKey(
        ResourceGroup, null=True, blank=True, on_delete=models.CASCADE, related_name="role_assignments"
    )
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        # One assignment per principal, role and scope. Two partial constraints, because SQLite
        # cannot treat the NULL resource group (subscription scope) as one value.
        constraints = [
            models.UniqueConstraint(
                fields=["principal", "role_name", "subscription"],
                condition=models.Q(resource_group__isnull=True),
                name="unique_subscription_role_assignment",
            ),
            models.UniqueConstraint(
                fields=["principal", "role_name", "resource_group"],
                condition=models.Q(resource_group__isnull=False),
                name="unique_resource_group_role_assignment",
            ),
            # Within a tenant the services check it across subscriptions, under the tenant's lock.
            models.UniqueConstraint(fields=["subscription", "name"], name="unique_role_assignment_name"),
        ]

    def __str__(self) -> str:
        return f"{self.principal} is {self.role_name} on {self.scope}"

    @property
    def role(self):
        return BUILTIN_ROLES[self.role_name]

    @property
    def scope(self) -> str:
        return self.resource_group.arm_id if self.resource_group_id else self.subscription.arm_id


class MachinesVirtualized(models.TextChoices):
    PHYSICAL = "physical", "Not virtualized/Other"
    VMWARE = "vmware", "Yes, with VMware vSphere"
    HYPERV = "hyperv", "Yes, with Hyper-V"


class MigrateProject(GroupResource, models.Model):
    """An Azure Migrate project (Microsoft.Migrate/migrateProjects)."""

    arm_type = "Microsoft.Migrate/migrateProjects"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4)
    resource_group = models.ForeignKey(ResourceGroup, on_delete=models.CASCADE, related_name="migrate_projects")
    name = models.CharField(max_length=24)
    # Where the project's metadata is stored (one of the tutorial's geography regions).
    location = models.CharField(max_length=40)
    tags = models.JSONField(default=dict, blank=True)
    etag = models.UUIDField(default=uuid.uuid4)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    # Set once, by "Create resources" in Discover: every migration of the project goes there.
    target_region = models.CharField(max_length=40, blank=True)
    machines_virtualized = models.CharField(max_length=20, blank=True, choices=MachinesVirtualized.choices)

    class Meta:
        ordering = [Lower("name")]
        constraints = [
            models.UniqueConstraint(Lower("name"), "resource_group", name="unique_migrate_project_name"),
        ]

    @property
    def subscription(self) -> Subscription:
        return self.resource_group.subscription

    @property
    def location_display_name(self) -> str:
        from projects.regions import region_display_name

        return region_display_name(self.location)

    def migration_resource(self, kind: str) -> MigrationResource | None:
        """The project's vault, Key Vault or cache storage account (Create resources makes one of each)."""
        return self.migration_resources.filter(kind=kind).first()

    def has_tool(self, tool: str) -> bool:
        return any(solution.tool == tool for solution in self.solutions.all())


class Solution(models.Model):
    """A tool added to a project; its ARM name is `{goal}-{purpose}-{tool}`."""

    class Tool(models.TextChoices):
        SERVER_MIGRATION = "ServerMigration", "Azure Migrate: Server Migration"
        SERVER_ASSESSMENT = "ServerAssessment", "Azure Migrate: Server Assessment"
        SERVER_DISCOVERY = "ServerDiscovery", "Azure Migrate: Discovery"

    project = models.ForeignKey(MigrateProject, on_delete=models.CASCADE, related_name="solutions")
    tool = models.CharField(max_length=40, choices=Tool.choices)
    goal = models.CharField(max_length=20, default="Servers")
    purpose = models.CharField(max_length=20)
    status = models.CharField(max_length=20, default="Active")
    etag = models.UUIDField(default=uuid.uuid4)
    created_at = models.DateTimeField(default=timezone.now)

    PURPOSES = {
        "ServerMigration": "Migration",
        "ServerAssessment": "Assessment",
        "ServerDiscovery": "Discovery",
    }

    class Meta:
        ordering = ["created_at"]
        constraints = [models.UniqueConstraint(fields=["project", "tool"], name="unique_project_tool")]

    def __str__(self) -> str:
        return self.name

    @property
    def name(self) -> str:
        return f"{self.goal}-{self.purpose}-{self.tool}"

    @property
    def arm_id(self) -> str:
        return f"{self.project.arm_id}/solutions/{self.name}"


class VirtualNetwork(GroupResource, models.Model):
    """An Azure virtual network (Microsoft.Network/virtualNetworks) that migrated VMs join."""

    arm_type = "Microsoft.Network/virtualNetworks"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4)
    resource_group = models.ForeignKey(ResourceGroup, on_delete=models.CASCADE, related_name="virtual_networks")
    name = models.CharField(max_length=64)
    location = models.CharField(max_length=40)
    address_prefixes = models.JSONField(default=list)
    tags = models.JSONField(default=dict, blank=True)
    etag = models.UUIDField(default=uuid.uuid4)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = [Lower("name")]
        constraints = [
            models.UniqueConstraint(Lower("name"), "resource_group", name="unique_virtual_network_name"),
        ]


class Subnet(models.Model):
    virtual_network = models.ForeignKey(VirtualNetwork, on_delete=models.CASCADE, related_name="subnets")
    name = models.CharField(max_length=80)
    address_prefix = models.CharField(max_length=43)
    etag = models.UUIDField(default=uuid.uuid4)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at"]
        constraints = [models.UniqueConstraint(Lower("name"), "virtual_network", name="unique_subnet_name")]

    def __str__(self) -> str:
        return self.name

    @property
    def arm_id(self) -> str:
        return f"{self.virtual_network.arm_id}/subnets/{self.name}"


class MigrationResource(GroupResource, models.Model):
    """What "Create resources" makes in the project's resource group: the Recovery Services vault, the
    Key Vault that guards the cache storage account's keys, and the cache storage account itself.

    The portal's job makes them for a project. Through ARM they are PUT on their own first (`project`
    empty) and become the project's when its Server Migration solution names them (details.extendedDetails)."""

    class Kind(models.TextChoices):
        RECOVERY_SERVICES_VAULT = "Microsoft.RecoveryServices/vaults", "Recovery Services vault"
        KEY_VAULT = "Microsoft.KeyVault/vaults", "Key vault"
        STORAGE_ACCOUNT = "Microsoft.Storage/storageAccounts", "Storage account"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4)
    project = models.ForeignKey(
        MigrateProject, null=True, blank=True, on_delete=models.CASCADE, related_name="migration_resources"
    )
    resource_group = models.ForeignKey(ResourceGroup, on_delete=models.CASCADE, related_name="migration_resources")
    kind = models.CharField(max_length=60, choices=Kind.choices)
    name = models.CharField(max_length=50)
    location = models.CharField(max_length=40)
    tags = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at"]
        constraints = [
            models.UniqueConstraint(fields=["project", "kind"], name="one_migration_resource_of_a_kind"),
            models.UniqueConstraint(Lower("name"), "kind", "resource_group", name="unique_migration_resource_name"),
        ]

    @property
    def arm_type(self) -> str:
        return self.kind


class AvailabilitySet(GroupResource, models.Model):
    """Microsoft.Compute/availabilitySets: where Replicate > Compute may place a migrated VM; it must be
    in the target resource group and region."""

    arm_type = "Microsoft.Compute/availabilitySets"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4)
    resource_group = models.ForeignKey(ResourceGroup, on_delete=models.CASCADE, related_name="availability_sets")
    name = models.CharField(max_length=80)
    location = models.CharField(max_length=40)
    fault_domains = models.PositiveSmallIntegerField(default=2)
    update_domains = models.PositiveSmallIntegerField(default=5)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = [Lower("name")]
        constraints = [
            models.UniqueConstraint(Lower("name"), "resource_group", name="unique_availability_set_name"),
        ]
