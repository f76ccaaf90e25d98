import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

import hub.clock


class Migration(migrations.Migration):
    dependencies = [
        ("entra", "0001_initial"),
        ("projects", "0005_user_principal_type"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
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
