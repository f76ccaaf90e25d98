from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("replication", "0009_protecteddisk_data_progress"),
    ]

    operations = [
        migrations.AddField(
            model_name="protecteddisk",
            name="dirty_chunks",
            field=models.JSONField(blank=True, default=None, null=True),
        ),
    ]
