"""Delivery lanes (SPEC §7.1): per-endpoint limits and breaker state, paused and cancelled deliveries,
queue indexes on the delivery rows, and a reason code for deactivated endpoints (the sentence moves to
deactivated_note)."""

import django.core.validators
import django.db.models.deletion
import django.utils.timezone
from django.db import migrations, models


def deactivation_reasons_split(apps, schema_editor):
    """The old free-text reason becomes the note; the code is read off its wording."""
    Endpoint = apps.get_model("webhooks", "WebhookEndpoint")
    for endpoint in Endpoint.objects.exclude(deactivated_reason=""):
        text = endpoint.deactivated_reason
        if text.startswith("HTTP 410"):
            code = "gone"
        elif text.startswith("Not listed in an imported config"):
            code = "config"
        else:
            code = "staff"
        Endpoint.objects.filter(pk=endpoint.pk).update(deactivated_note=text[:200], deactivated_reason=code)


def pending_deliveries_due(apps, schema_editor):
    """The queue reads due times: a pending delivery without one was due when it was created."""
    Delivery = apps.get_model("webhooks", "WebhookDelivery")
    Delivery.objects.filter(status="pending", next_attempt_at__isnull=True).update(next_attempt_at=models.F("created_at"))


def deactivation_reasons_join(apps, schema_editor):
    Endpoint = apps.get_model("webhooks", "WebhookEndpoint")
    for endpoint in Endpoint.objects.exclude(deactivated_reason=""):
        Endpoint.objects.filter(pk=endpoint.pk).update(deactivated_reason=endpoint.deactivated_note or "staff")


class Migration(migrations.Migration):

    dependencies = [
        ('ingress', '0002_fewer_indexes_per_push'),
        ('webhooks', '0004_history_attempted_index'),
    ]

    operations = [
        migrations.CreateModel(
            name='EndpointLane',
            fields=[
                ('endpoint', models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, primary_key=True, related_name='lane', serialize=False, to='webhooks.webhookendpoint')),
                ('state', models.CharField(choices=[('closed', 'Closed (sending)'), ('open', 'Open (waiting for the cool-down)'), ('half_open', 'Half-open (one probe in flight)')], default='closed', max_length=10)),
                ('state_since', models.DateTimeField(default=django.utils.timezone.now)),
                ('consecutive_failures', models.PositiveIntegerField(default=0)),
                ('cooldown_seconds', models.PositiveIntegerField(default=0, help_text='Length of the current open period.')),
                ('open_until', models.DateTimeField(blank=True, null=True)),
                ('probe_delivery_id', models.BigIntegerField(blank=True, help_text="The half-open lane's probe.", null=True)),
                ('rate_next_at', models.DateTimeField(blank=True, help_text='Earliest start of the next attempt.', null=True)),
                ('last_success_at', models.DateTimeField(blank=True, null=True)),
                ('failing_since', models.DateTimeField(blank=True, help_text='First failed attempt since the last success.', null=True)),
                ('updated_at', models.DateTimeField(auto_now=True)),
            ],
        ),
        migrations.RemoveIndex(
            model_name='webhookdelivery',
            name='delivery_status_due_idx',
        ),
        migrations.AddField(
            model_name='webhookendpoint',
            name='breaker_failures',
            field=models.PositiveSmallIntegerField(default=5, help_text='Consecutive failed attempts (network error, timeout, 408, 425, 429, 5xx) that open the circuit breaker: deliveries then wait, attempts unspent, until a probe succeeds.', validators=[django.core.validators.MinValueValidator(1), django.core.validators.MaxValueValidator(100)]),
        ),
        migrations.AddField(
            model_name='webhookendpoint',
            name='deactivated_note',
            field=models.CharField(blank=True, max_length=200),
        ),
        migrations.AddField(
            model_name='webhookendpoint',
            name='max_in_flight',
            field=models.PositiveSmallIntegerField(default=8, help_text='Attempts in flight at once to this endpoint, across every worker (1 sends one at a time).', validators=[django.core.validators.MinValueValidator(1), django.core.validators.MaxValueValidator(256)]),
        ),
        migrations.AddField(
            model_name='webhookendpoint',
            name='rate_limit_per_minute',
            field=models.PositiveIntegerField(blank=True, help_text='At most this many attempts start per minute, evenly spaced, across every worker. Empty: no limit.', null=True, validators=[django.core.validators.MinValueValidator(1), django.core.validators.MaxValueValidator(60000)]),
        ),
        migrations.AlterField(
            model_name='webhookdelivery',
            name='next_attempt_at',
            field=models.DateTimeField(blank=True, default=django.utils.timezone.now, null=True),
        ),
        migrations.AlterField(
            model_name='webhookdelivery',
            name='status',
            field=models.CharField(choices=[('pending', 'Pending'), ('sending', 'Sending'), ('paused', 'Paused (endpoint inactive)'), ('succeeded', 'Succeeded'), ('failed', 'Failed'), ('cancelled', 'Cancelled')], default='pending', max_length=10),
        ),
        migrations.RunPython(deactivation_reasons_split, deactivation_reasons_join, elidable=True),
        migrations.RunPython(pending_deliveries_due, migrations.RunPython.noop, elidable=True),
        migrations.AlterField(
            model_name='webhookendpoint',
            name='deactivated_reason',
            field=models.CharField(blank=True, choices=[('staff', 'Deactivated by staff'), ('gone', 'The receiver answered 410 Gone'), ('failing', 'Every attempt failed for too long'), ('config', 'Not listed in an imported config document')], max_length=20),
        ),
        migrations.AddIndex(
            model_name='deliveryattempt',
            index=models.Index(fields=['started_at'], name='attempt_started_idx'),
        ),
        migrations.AddIndex(
            model_name='webhookdelivery',
            index=models.Index(condition=models.Q(('status', 'pending')), fields=['endpoint', 'next_attempt_at'], name='delivery_due_idx'),
        ),
        migrations.AddIndex(
            model_name='webhookdelivery',
            index=models.Index(condition=models.Q(('is_test', True), ('status', 'pending')), fields=['next_attempt_at'], name='delivery_test_due_idx'),
        ),
        migrations.AddIndex(
            model_name='webhookdelivery',
            index=models.Index(condition=models.Q(('status', 'sending')), fields=['endpoint', 'lease_expires_at'], name='delivery_sending_idx'),
        ),
        migrations.AddConstraint(
            model_name='webhookendpoint',
            constraint=models.CheckConstraint(condition=models.Q(('max_in_flight__gte', 1)), name='endpoint_max_in_flight_positive'),
        ),
    ]
