# Squashed by hand from 0001_squashed_0002_initial, 0003_api_token_expiry, 0004_signing_key: replaces names every migration a
# database may have recorded, so databases migrated before the squash see it applied.

import django.db.models.deletion
import django.utils.timezone
from datetime import timedelta
from django.conf import settings
from django.db import migrations, models
from django.utils import timezone


# Personal API tokens expire. Tokens made before expiry existed get the default lifetime from now
# (90 days), so no client breaks on upgrade; their owners see the date in the token list.
def expire_in_ninety_days(apps, schema_editor):
    apps.get_model("hub", "ApiToken").objects.filter(expires_at__isnull=True).update(
        expires_at=timezone.now() + timedelta(days=90)
    )


class Migration(migrations.Migration):

    replaces = [('hub', '0001_initial'), ('hub', '0002_initial'), ('hub', '0003_api_token_expiry'), ('hub', '0004_signing_key')]

    initial = True

    dependencies = [
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name='EmulatorClock',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('offset_seconds', models.FloatField(default=0)),
                ('updated_at', models.DateTimeField(auto_now=True)),
            ],
        ),
        migrations.CreateModel(
            name='ApiToken',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('name', models.CharField(max_length=80)),
                ('hint', models.CharField(max_length=16)),
                ('token_hash', models.CharField(max_length=64, unique=True)),
                ('created_at', models.DateTimeField(default=django.utils.timezone.now)),
                ('last_used_at', models.DateTimeField(blank=True, null=True)),
                ('revoked_at', models.DateTimeField(blank=True, null=True)),
                ('user', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='api_tokens', to=settings.AUTH_USER_MODEL)),
            ],
            options={
                'ordering': ['-created_at'],
            },
        ),
        migrations.AddField(model_name="apitoken", name="expires_at", field=models.DateTimeField(null=True)),
        migrations.RunPython(expire_in_ninety_days, migrations.RunPython.noop),
        migrations.AlterField(model_name="apitoken", name="expires_at", field=models.DateTimeField()),
        migrations.CreateModel(
            name="SigningKey",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("kid", models.CharField(max_length=64, unique=True)),
                ("private_key", models.TextField()),
                ("created_at", models.DateTimeField(default=timezone.now)),
            ],
            options={"ordering": ["-created_at", "-pk"]},
        ),
    ]
