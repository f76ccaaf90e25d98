# Squashed by hand from 0001_squashed_0003_availabilityset, 0004_role_assignment_name, 0005_user_principal_type, 0006_migration_resource_created_through_arm: replaces names every migration a
# database may have recorded, so databases migrated before the squash see it applied. Later fields, constraints
# and field changes are folded into each CreateModel, columns in the order they were added. 0004's RunPython
# (existing role assignments named after their id) is left out: a database built from this squash has none.

import django.db.models.deletion
import django.db.models.functions.text
import django.utils.timezone
import projects.models
import uuid
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    replaces = [('projects', '0001_initial'), ('projects', '0002_migration_resources'), ('projects', '0003_availabilityset'), ('projects', '0004_role_assignment_name'), ('projects', '0005_user_principal_type'), ('projects', '0006_migration_resource_created_through_arm')]

    initial = True

    dependencies = [
        ('auth', '0012_alter_user_first_name_max_length'),
    ]

    operations = [
        migrations.CreateModel(
            name='ResourceGroup',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('name', models.CharField(max_length=90)),
                ('location', models.CharField(max_length=40)),
                ('tags', models.JSONField(blank=True, default=dict)),
                ('managed_by', models.CharField(blank=True, max_length=400, null=True)),
                ('provisioning_state', models.CharField(choices=[('Succeeded', 'Succeeded'), ('Deleting', 'Deleting')], default='Succeeded', max_length=20)),
                ('created_at', models.DateTimeField(default=django.utils.timezone.now)),
            ],
            options={
                'ordering': [django.db.models.functions.text.Lower('name')],
            },
        ),
        migrations.CreateModel(
            name='Subscription',
            fields=[
                ('id', models.UUIDField(default=uuid.uuid4, primary_key=True, serialize=False)),
                ('display_name', models.CharField(max_length=120)),
                ('state', models.CharField(default='Enabled', max_length=20)),
            ],
            options={
                'ordering': ['display_name'],
            },
        ),
        migrations.CreateModel(
            name='Tenant',
            fields=[
                ('id', models.UUIDField(default=uuid.uuid4, primary_key=True, serialize=False)),
                ('display_name', models.CharField(max_length=120)),
                ('domain', models.CharField(max_length=200, unique=True)),
                ('app_registrations_allowed', models.BooleanField(default=True)),
            ],
        ),
        migrations.CreateModel(
            name='User',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('password', models.CharField(max_length=128, verbose_name='password')),
                ('last_login', models.DateTimeField(blank=True, null=True, verbose_name='last login')),
                ('is_superuser', models.BooleanField(default=False, help_text='Designates that this user has all permissions without explicitly assigning them.', verbose_name='superuser status')),
                ('first_name', models.CharField(blank=True, max_length=150, verbose_name='first name')),
                ('last_name', models.CharField(blank=True, max_length=150, verbose_name='last name')),
                ('is_staff', models.BooleanField(default=False, help_text='Designates whether the user can log into this admin site.', verbose_name='staff status')),
                ('is_active', models.BooleanField(default=True, help_text='Designates whether this user should be treated as active. Unselect this instead of deleting accounts.', verbose_name='active')),
                ('date_joined', models.DateTimeField(default=django.utils.timezone.now, verbose_name='date joined')),
                ('email', models.EmailField(max_length=254, unique=True)),
                ('object_id', models.UUIDField(default=uuid.uuid4, editable=False, unique=True)),
                ('display_name', models.CharField(blank=True, max_length=120)),
                ('groups', models.ManyToManyField(blank=True, help_text='The groups this user belongs to. A user will get all permissions granted to each of their groups.', related_name='user_set', related_query_name='user', to='auth.group', verbose_name='groups')),
                ('user_permissions', models.ManyToManyField(blank=True, help_text='Specific permissions for this user.', related_name='user_set', related_query_name='user', to='auth.permission', verbose_name='user permissions')),
                ('tenant', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='users', to='projects.tenant')),
                ('principal_type', models.CharField(choices=[('User', 'User'), ('ServicePrincipal', 'Service Principal')], default='User', max_length=20)),
            ],
            options={
                'verbose_name': 'user',
                'verbose_name_plural': 'users',
                'abstract': False,
            },
            managers=[
                ('objects', projects.models.UserManager()),
            ],
        ),
        migrations.CreateModel(
            name='MigrateProject',
            fields=[
                ('id', models.UUIDField(default=uuid.uuid4, primary_key=True, serialize=False)),
                ('name', models.CharField(max_length=24)),
                ('location', models.CharField(max_length=40)),
                ('tags', models.JSONField(blank=True, default=dict)),
                ('etag', models.UUIDField(default=uuid.uuid4)),
                ('created_at', models.DateTimeField(default=django.utils.timezone.now)),
                ('updated_at', models.DateTimeField(default=django.utils.timezone.now)),
                ('resource_group', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='migrate_projects', to='projects.resourcegroup')),
                ('machines_virtualized', models.CharField(blank=True, choices=[('physical', 'Not virtualized/Other'), ('vmware', 'Yes, with VMware vSphere'), ('hyperv', 'Yes, with Hyper-V')], max_length=20)),
                ('target_region', models.CharField(blank=True, max_length=40)),
            ],
            options={
                'ordering': [django.db.models.functions.text.Lower('name')],
                'constraints': [models.UniqueConstraint(django.db.models.functions.text.Lower('name'), models.F('resource_group'), name='unique_migrate_project_name')],
            },
        ),
        migrations.CreateModel(
            name='Solution',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('tool', models.CharField(choices=[('ServerMigration', 'Azure Migrate: Server Migration'), ('ServerAssessment', 'Azure Migrate: Server Assessment'), ('ServerDiscovery', 'Azure Migrate: Discovery')], max_length=40)),
                ('goal', models.CharField(default='Servers', max_length=20)),
                ('purpose', models.CharField(max_length=20)),
                ('status', models.CharField(default='Active', max_length=20)),
                ('etag', models.UUIDField(default=uuid.uuid4)),
                ('created_at', models.DateTimeField(default=django.utils.timezone.now)),
                ('project', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='solutions', to='projects.migrateproject')),
            ],
            options={
                'ordering': ['created_at'],
                'constraints': [models.UniqueConstraint(fields=('project', 'tool'), name='unique_project_tool')],
            },
        ),
        migrations.CreateModel(
            name='RoleAssignment',
            fields=[
                ('id', models.UUIDField(default=uuid.uuid4, primary_key=True, serialize=False)),
                ('role_name', models.CharField(choices=[('Owner', 'Owner'), ('Contributor', 'Contributor'), ('Reader', 'Reader'), ('User Access Administrator', 'User Access Administrator'), ('Virtual Machine Contributor', 'Virtual Machine Contributor')], max_length=60)),
                ('created_at', models.DateTimeField(default=django.utils.timezone.now)),
                ('created_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
                ('principal', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='role_assignments', to=settings.AUTH_USER_MODEL)),
                ('resource_group', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.CASCADE, related_name='role_assignments', to='projects.resourcegroup')),
                ('subscription', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='role_assignments', to='projects.subscription')),
                ('name', models.UUIDField(default=uuid.uuid4)),
            ],
            options={
                'constraints': [models.UniqueConstraint(condition=models.Q(('resource_group__isnull', True)), fields=('principal', 'role_name', 'subscription'), name='unique_subscription_role_assignment'), models.UniqueConstraint(condition=models.Q(('resource_group__isnull', False)), fields=('principal', 'role_name', 'resource_group'), name='unique_resource_group_role_assignment'), models.UniqueConstraint(fields=('subscription', 'name'), name='unique_role_assignment_name')],
            },
        ),
        migrations.AddField(
            model_name='resourcegroup',
            name='subscription',
            field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='resource_groups', to='projects.subscription'),
        ),
        migrations.AddField(
            model_name='subscription',
            name='tenant',
            field=models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='subscriptions', to='projects.tenant'),
        ),
        migrations.CreateModel(
            name='VirtualNetwork',
            fields=[
                ('id', models.UUIDField(default=uuid.uuid4, primary_key=True, serialize=False)),
                ('name', models.CharField(max_length=64)),
                ('location', models.CharField(max_length=40)),
                ('address_prefixes', models.JSONField(default=list)),
                ('tags', models.JSONField(blank=True, default=dict)),
                ('etag', models.UUIDField(default=uuid.uuid4)),
                ('created_at', models.DateTimeField(default=django.utils.timezone.now)),
                ('resource_group', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='virtual_networks', to='projects.resourcegroup')),
            ],
            options={
                'ordering': [django.db.models.functions.text.Lower('name')],
                'constraints': [models.UniqueConstraint(django.db.models.functions.text.Lower('name'), models.F('resource_group'), name='unique_virtual_network_name')],
            },
        ),
        migrations.CreateModel(
            name='Subnet',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('name', models.CharField(max_length=80)),
                ('address_prefix', models.CharField(max_length=43)),
                ('etag', models.UUIDField(default=uuid.uuid4)),
                ('created_at', models.DateTimeField(default=django.utils.timezone.now)),
                ('virtual_network', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='subnets', to='projects.virtualnetwork')),
            ],
            options={
                'ordering': ['created_at'],
                'constraints': [models.UniqueConstraint(django.db.models.functions.text.Lower('name'), models.F('virtual_network'), name='unique_subnet_name')],
            },
        ),
        migrations.CreateModel(
            name='DirectoryRoleAssignment',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('role', models.CharField(choices=[('Global administrator', 'Global Administrator'), ('Application Developer', 'Application Developer')], max_length=40)),
                ('created_at', models.DateTimeField(default=django.utils.timezone.now)),
                ('user', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='directory_roles', to=settings.AUTH_USER_MODEL)),
            ],
            options={
                'constraints': [models.UniqueConstraint(fields=('user', 'role'), name='unique_directory_role')],
            },
        ),
        migrations.AddConstraint(
            model_name='resourcegroup',
            constraint=models.UniqueConstraint(django.db.models.functions.text.Lower('name'), models.F('subscription'), name='unique_resource_group_name'),
        ),
        migrations.CreateModel(
            name='MigrationResource',
            fields=[
                ('id', models.UUIDField(default=uuid.uuid4, primary_key=True, serialize=False)),
                ('kind', models.CharField(choices=[('Microsoft.RecoveryServices/vaults', 'Recovery Services vault'), ('Microsoft.KeyVault/vaults', 'Key vault'), ('Microsoft.Storage/storageAccounts', 'Storage account')], max_length=60)),
                ('name', models.CharField(max_length=50)),
                ('location', models.CharField(max_length=40)),
                ('tags', models.JSONField(blank=True, default=dict)),
                ('created_at', models.DateTimeField(default=django.utils.timezone.now)),
                ('project', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.CASCADE, related_name='migration_resources', to='projects.migrateproject')),
                ('resource_group', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='migration_resources', to='projects.resourcegroup')),
            ],
            options={
                'ordering': ['created_at'],
                'constraints': [models.UniqueConstraint(fields=('project', 'kind'), name='one_migration_resource_of_a_kind'), models.UniqueConstraint(django.db.models.functions.text.Lower('name'), models.F('kind'), models.F('resource_group'), name='unique_migration_resource_name')],
            },
        ),
        migrations.CreateModel(
            name='AvailabilitySet',
            fields=[
                ('id', models.UUIDField(default=uuid.uuid4, primary_key=True, serialize=False)),
                ('name', models.CharField(max_length=80)),
                ('location', models.CharField(max_length=40)),
                ('fault_domains', models.PositiveSmallIntegerField(default=2)),
                ('update_domains', models.PositiveSmallIntegerField(default=5)),
                ('created_at', models.DateTimeField(default=django.utils.timezone.now)),
                ('resource_group', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='availability_sets', to='projects.resourcegroup')),
            ],
            options={
                'ordering': [django.db.models.functions.text.Lower('name')],
                'constraints': [models.UniqueConstraint(django.db.models.functions.text.Lower('name'), models.F('resource_group'), name='unique_availability_set_name')],
            },
        ),
    ]
