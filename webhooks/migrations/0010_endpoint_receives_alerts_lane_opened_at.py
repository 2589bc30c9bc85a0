"""Alert receivers among the endpoints, and since when a lane has been open (ops alerts)."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('webhooks', '0009_endpoint_retry_on_status_and_secret_rotation'),
    ]

    operations = [
        migrations.AddField(
            model_name='endpointlane',
            name='opened_at',
            field=models.DateTimeField(blank=True, help_text='While not closed: when the breaker opened (failed probes keep it).', null=True),
        ),
        migrations.AddField(
            model_name='webhookendpoint',
            name='receives_alerts',
            field=models.BooleanField(default=False, help_text="Also receives the service's alerts, as signed alert.raised / alert.resolved POSTs."),
        ),
    ]
