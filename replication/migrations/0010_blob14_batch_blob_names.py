"""Batch rows named their blob by its path under REPLICATION_DIR ("storage/<account>/..."); they now
name it as hub/object_store.py does ("<account>/..."), which the local backend keeps at the same file."""

from django.db import migrations
from django.db.models import F, Value
from django.db.models.functions import Substr

PREFIX = "storage/"


def forwards(apps, schema_editor):
    batches = apps.get_model("replication", "ReplicationBatch").objects
    batches.filter(blob_name__startswith=PREFIX).update(blob_name=Substr(F("blob_name"), len(PREFIX) + 1))


def backwards(apps, schema_editor):
    from django.db.models.functions import Concat

    batches = apps.get_model("replication", "ReplicationBatch").objects
    batches.exclude(blob_name__startswith=PREFIX).update(blob_name=Concat(Value(PREFIX), F("blob_name")))


class Migration(migrations.Migration):
    dependencies = [("replication", "0009_protecteddisk_data_progress")]
    operations = [migrations.RunPython(forwards, backwards)]
