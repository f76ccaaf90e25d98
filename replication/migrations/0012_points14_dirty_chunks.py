from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("replication", "0011_planner15_appliance_upload_cap"),
    ]

    operations = [
        migrations.AddField(
            model_name="protecteddisk",
            name="dirty_chunks",
            field=models.JSONField(blank=True, default=None, null=True),
        ),
    ]
