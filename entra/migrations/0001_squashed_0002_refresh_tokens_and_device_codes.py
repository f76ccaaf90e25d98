# Squashed by hand from 0001_initial, 0002_refresh_tokens_and_device_codes: replaces names every migration a
# database may have recorded, so databases migrated before the squash see it applied.

import django.db.models.deletion
import hub.clock
import uuid
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    replaces = [('entra', '0001_initial'), ('entra', '0002_refresh_tokens_and_device_codes')]

    initial = True

    dependencies = [
        ('projects', '0001_squashed_0006_migration_resource_created_through_arm'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name='Application',
            fields=[
                ('id', models.UUIDField(default=uuid.uuid4, primary_key=True, serialize=False)),
                ('app_id', models.UUIDField(default=uuid.uuid4, editable=False, unique=True)),
                ('display_name', models.CharField(max_length=120)),
                ('created_at', models.DateTimeField(default=hub.clock.now)),
                ('created_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
                ('service_principal', models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, related_name='application', to=settings.AUTH_USER_MODEL)),
                ('tenant', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='applications', to='projects.tenant')),
            ],
            options={
                'ordering': ['display_name', 'created_at'],
            },
        ),
        migrations.CreateModel(
            name='ClientSecret',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('key_id', models.UUIDField(default=uuid.uuid4, editable=False, unique=True)),
                ('display_name', models.CharField(blank=True, max_length=120)),
                ('hint', models.CharField(max_length=8)),
                ('secret_hash', models.CharField(max_length=64)),
                ('created_at', models.DateTimeField(default=hub.clock.now)),
                ('expires_at', models.DateTimeField()),
                ('application', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='client_secrets', to='entra.application')),
            ],
            options={
                'ordering': ['-created_at'],
            },
        ),
        migrations.CreateModel(
            name="RefreshToken",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("token_hash", models.CharField(max_length=64, unique=True)),
                ("client_id", models.CharField(max_length=36)),
                ("created_at", models.DateTimeField(default=hub.clock.now)),
                ("expires_at", models.DateTimeField()),
                (
                    "user",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE, related_name="+", to=settings.AUTH_USER_MODEL
                    ),
                ),
            ],
        ),
        migrations.CreateModel(
            name="DeviceCode",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("device_code_hash", models.CharField(max_length=64, unique=True)),
                ("user_code", models.CharField(max_length=9, unique=True)),
                ("client_id", models.CharField(max_length=36)),
                ("scope", models.CharField(max_length=2000)),
                ("created_at", models.DateTimeField(default=hub.clock.now)),
                ("expires_at", models.DateTimeField()),
                ("declined", models.BooleanField(default=False)),
                ("redeemed_at", models.DateTimeField(blank=True, null=True)),
                (
                    "approved_by",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "tenant",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="projects.tenant",
                    ),
                ),
            ],
        ),
    ]
