"""Role assignments get an ARM name of their own, unique within a tenant (it was the primary key,
unique across every tenant, which let one tenant learn another's GUIDs). Existing assignments keep
their name: it is copied from the id."""

import uuid

from django.db import migrations, models
from django.db.models import F


def name_from_id(apps, schema_editor):
    apps.get_model("projects", "RoleAssignment").objects.update(name=F("id"))


class Migration(migrations.Migration):
    dependencies = [
        ("projects", "0001_squashed_0003_availabilityset"),
    ]

    operations = [
        migrations.AddField(model_name="roleassignment", name="name", field=models.UUIDField(null=True)),
        migrations.RunPython(name_from_id, migrations.RunPython.noop),
        migrations.AlterField(model_name="roleassignment", name="name", field=models.UUIDField(default=uuid.uuid4)),
        migrations.AddConstraint(
            model_name="roleassignment",
            constraint=models.UniqueConstraint(fields=("subscription", "name"), name="unique_role_assignment_name"),
        ),
    ]
