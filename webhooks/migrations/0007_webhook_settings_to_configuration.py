"""The old webhook settings are the configuration app's ingress settings now (its 0001 migration took
the table); the retry schedule lives on in webhooks.DeliverySettings."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("webhooks", "0006_delivery_settings"), ("configuration", "0001_initial")]

    operations = [
        migrations.SeparateDatabaseAndState(state_operations=[migrations.DeleteModel(name="WebhookSettings")])
    ]
