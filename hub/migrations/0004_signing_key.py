from django.db import migrations, models
from django.utils import timezone


class Migration(migrations.Migration):
    dependencies = [
        ("hub", "0003_api_token_expiry"),
    ]

    operations = [
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
