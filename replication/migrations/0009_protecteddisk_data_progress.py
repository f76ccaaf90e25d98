from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("replication", "0008_appliance_load_and_scale_out"),
    ]

    operations = [
        migrations.AddField(
            model_name="protecteddisk",
            name="data_total_bytes",
            field=models.BigIntegerField(default=0),
        ),
        migrations.AddField(
            model_name="protecteddisk",
            name="data_scanned_bytes",
            field=models.BigIntegerField(default=0),
        ),
    ]
