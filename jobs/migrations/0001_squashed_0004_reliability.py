# Squashed by hand from 0001_squashed_0003_job_target_index, 0004_reliability: replaces names every migration a
# database may have recorded, so databases migrated before the squash see it applied. Later fields, indexes and
# constraints are folded into each CreateModel, columns in the order they were added.

import django.db.models.deletion
import django.utils.timezone
import uuid
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    replaces = [('jobs', '0001_initial'), ('jobs', '0002_initial'), ('jobs', '0003_job_target_index'), ('jobs', '0004_reliability')]

    initial = True

    dependencies = [
        ('projects', '0001_squashed_0006_migration_resource_created_through_arm'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name='Job',
            fields=[
                ('id', models.UUIDField(default=uuid.uuid4, primary_key=True, serialize=False)),
                ('resource_group_name', models.CharField(blank=True, max_length=90)),
                ('scenario_name', models.CharField(max_length=60)),
                ('friendly_name', models.CharField(max_length=120)),
                ('state', models.CharField(choices=[('NotStarted', 'Not started'), ('InProgress', 'In progress'), ('Succeeded', 'Succeeded'), ('Failed', 'Failed'), ('Cancelled', 'Cancelled')], default='NotStarted', max_length=20)),
                ('state_description', models.CharField(blank=True, max_length=60)),
                ('target_object_id', models.CharField(blank=True, max_length=400)),
                ('target_object_name', models.CharField(blank=True, max_length=120)),
                ('target_instance_type', models.CharField(blank=True, max_length=60)),
                ('input', models.JSONField(blank=True, default=dict)),
                ('errors', models.JSONField(blank=True, default=list)),
                ('created_at', models.DateTimeField(default=django.utils.timezone.now)),
                ('started_at', models.DateTimeField(blank=True, null=True)),
                ('ended_at', models.DateTimeField(blank=True, null=True)),
                ('created_by', models.ForeignKey(null=True, on_delete=django.db.models.deletion.SET_NULL, to=settings.AUTH_USER_MODEL)),
                ('subscription', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='jobs', to='projects.subscription')),
                ('claimed_by', models.CharField(blank=True, max_length=200)),
                ('queued_at', models.DateTimeField(blank=True, null=True)),
                ('run_ticket', models.UUIDField(default=uuid.uuid4)),
            ],
            options={
                'ordering': ['-created_at'],
                'indexes': [models.Index(fields=['subscription', '-created_at'], name='jobs_job_subscri_676257_idx'), models.Index(fields=['target_object_id'], name='jobs_job_target__669115_idx'), models.Index(fields=['state', 'claimed_by'], name='jobs_job_state_2fc09e_idx')],
            },
        ),
        migrations.CreateModel(
            name='JobTask',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('position', models.PositiveSmallIntegerField()),
                ('name', models.CharField(max_length=60)),
                ('friendly_name', models.CharField(max_length=120)),
                ('state', models.CharField(choices=[('NotStarted', 'Not started'), ('InProgress', 'In progress'), ('Succeeded', 'Succeeded'), ('Failed', 'Failed'), ('Cancelled', 'Cancelled')], default='NotStarted', max_length=20)),
                ('started_at', models.DateTimeField(blank=True, null=True)),
                ('ended_at', models.DateTimeField(blank=True, null=True)),
                ('errors', models.JSONField(blank=True, default=list)),
                ('job', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='tasks', to='jobs.job')),
            ],
            options={
                'ordering': ['position'],
                'constraints': [models.UniqueConstraint(fields=('job', 'position'), name='unique_task_position')],
            },
        ),
        migrations.CreateModel(
            name='Notification',
            fields=[
                ('id', models.UUIDField(default=uuid.uuid4, primary_key=True, serialize=False)),
                ('title', models.CharField(max_length=120)),
                ('message', models.CharField(blank=True, max_length=400)),
                ('level', models.CharField(choices=[('InProgress', 'In Progress'), ('Succeeded', 'Succeeded'), ('Failed', 'Failed'), ('Info', 'Info')], default='Info', max_length=20)),
                ('link', models.CharField(blank=True, max_length=400)),
                ('read', models.BooleanField(default=False)),
                ('created_at', models.DateTimeField(default=django.utils.timezone.now)),
                ('updated_at', models.DateTimeField(default=django.utils.timezone.now)),
                ('job', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.CASCADE, related_name='notifications', to='jobs.job')),
                ('user', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='notifications', to=settings.AUTH_USER_MODEL)),
            ],
            options={
                'ordering': ['-updated_at'],
                'indexes': [models.Index(fields=['user', '-updated_at'], name='jobs_notifi_user_id_2ebd2d_idx'), models.Index(fields=['user', 'read'], name='jobs_notifi_user_id_24a9ae_idx')],
            },
        ),
        migrations.CreateModel(
            name='OutboxMessage',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('task_name', models.CharField(max_length=200)),
                ('args', models.JSONField(default=list)),
                ('due_at', models.DateTimeField(default=django.utils.timezone.now)),
                ('claimed_until', models.DateTimeField(blank=True, null=True)),
                ('attempts', models.PositiveIntegerField(default=0)),
                ('created_at', models.DateTimeField(default=django.utils.timezone.now)),
            ],
            options={
                'indexes': [models.Index(fields=['due_at'], name='jobs_outbox_due_at_20e660_idx')],
            },
        ),
        migrations.CreateModel(
            name='WorkerHeartbeat',
            fields=[
                ('name', models.CharField(max_length=200, primary_key=True, serialize=False)),
                ('started_at', models.DateTimeField(default=django.utils.timezone.now)),
                ('last_seen_at', models.DateTimeField(db_index=True, default=django.utils.timezone.now)),
            ],
        ),
    ]
