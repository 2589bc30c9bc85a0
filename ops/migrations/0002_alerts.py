"""Alerts raised and resolved by the delivery workers, their notifications, and the evaluation lease."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('ops', '0001_write_probe'),
    ]

    operations = [
        migrations.CreateModel(
            name='AlertLease',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('holder', models.CharField(blank=True, max_length=64)),
                ('expires_at', models.DateTimeField(blank=True, null=True)),
            ],
        ),
        migrations.CreateModel(
            name='Alert',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('kind', models.CharField(choices=[('endpoint_lane_open', 'Endpoint lane open for more than 5 minutes'), ('endpoint_recovered', 'Endpoint recovered'), ('endpoint_auto_disabled', 'Endpoint auto-disabled'), ('delivery_failed', 'Delivery failed for good'), ('no_default_endpoint', 'No active default endpoint'), ('no_ingress', 'No push inside the time window'), ('offload_failing', 'File offload failure rate over 10 %'), ('queue_behind', 'Oldest due delivery too old')], max_length=30)),
                ('subject_type', models.CharField(choices=[('endpoint', 'Endpoint'), ('delivery', 'Delivery'), ('service', 'Service')], max_length=10)),
                ('subject_id', models.BigIntegerField(default=0, help_text="The endpoint's or delivery's id; 0 for the service.")),
                ('subject_label', models.CharField(max_length=200)),
                ('message', models.CharField(max_length=500)),
                ('first_seen_at', models.DateTimeField()),
                ('last_seen_at', models.DateTimeField()),
                ('count', models.PositiveIntegerField(default=1, help_text='Times it was raised (opened again after resolving).')),
                ('resolved_at', models.DateTimeField(blank=True, db_index=True, null=True)),
                ('last_notified_at', models.DateTimeField(blank=True, help_text='When operators were last told it was raised.', null=True)),
                ('notified_open', models.BooleanField(default=False, help_text='The last notification said it was raised: its resolution is to be told.')),
            ],
            options={
                'ordering': [models.OrderBy(models.F('resolved_at'), descending=True, nulls_first=True), '-last_seen_at'],
                'indexes': [models.Index(fields=['kind', 'subject_type', 'subject_id'], name='alert_subject_idx')],
                'constraints': [models.UniqueConstraint(condition=models.Q(('resolved_at__isnull', True)), fields=('kind', 'subject_type', 'subject_id'), name='one_open_alert_per_subject')],
            },
        ),
        migrations.CreateModel(
            name='AlertNotification',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('event', models.CharField(choices=[('alert.raised', 'Raised'), ('alert.resolved', 'Resolved')], max_length=20)),
                ('channel', models.CharField(help_text='email, or webhook:<endpoint name>.', max_length=120)),
                ('sent_at', models.DateTimeField()),
                ('succeeded', models.BooleanField()),
                ('error', models.CharField(blank=True, max_length=500)),
                ('alert', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='notifications', to='ops.alert')),
            ],
            options={
                'ordering': ['-sent_at', '-id'],
            },
        ),
    ]
